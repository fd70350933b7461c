/*
 * Small containers of the fusion engine: a string-keyed hash map (tensor
 * names to state) and the byte buffers its negotiation messages are built
 * in and parsed from.
 */
#include "fusion/rz_fusion_int.h"

#include <stdlib.h>
#include <string.h>

uint64_t rz_fu_hash(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static size_t rz_fu_map_bucket(const rz_fu_map_t *map, const char *key)
{
    return (size_t)rz_fu_hash(0xcbf29ce484222325ull, key, strlen(key)) &
           (map->nbuckets - 1);
}

void *rz_fu_map_get(const rz_fu_map_t *map, const char *key)
{
    if (map->nbuckets == 0) {
        return NULL;
    }
    for (rz_fu_map_entry_t *e = map->buckets[rz_fu_map_bucket(map, key)];
         e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            return e->val;
        }
    }
    return NULL;
}

/* Double the bucket array once the load passes 1. */
static rz_status_t rz_fu_map_grow(rz_fu_map_t *map)
{
    size_t nb = map->nbuckets == 0 ? 64 : map->nbuckets * 2;
    rz_fu_map_entry_t **b = calloc(nb, sizeof(*b));
    rz_fu_map_t grown = {b, nb, map->n};

    if (b == NULL) {
        return RZ_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < map->nbuckets; i++) {
        rz_fu_map_entry_t *e = map->buckets[i], *next;
        for (; e != NULL; e = next) {
            size_t k = rz_fu_map_bucket(&grown, e->key);
            next = e->next;
            e->next = b[k];
            b[k] = e;
        }
    }
    free(map->buckets);
    *map = grown;
    return RZ_OK;
}

rz_status_t rz_fu_map_put(rz_fu_map_t *map, const char *key, void *val)
{
    rz_fu_map_entry_t *e;

    if (map->n >= map->nbuckets && rz_fu_map_grow(map) != RZ_OK) {
        return RZ_ERR_NO_MEMORY;
    }
    size_t k = rz_fu_map_bucket(map, key);
    for (e = map->buckets[k]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            e->val = val;
            return RZ_OK;
        }
    }
    e = malloc(sizeof(*e));
    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        return RZ_ERR_NO_MEMORY;
    }
    e->val = val;
    e->next = map->buckets[k];
    map->buckets[k] = e;
    map->n++;
    return RZ_OK;
}

void *rz_fu_map_del(rz_fu_map_t *map, const char *key)
{
    if (map->nbuckets == 0) {
        return NULL;
    }
    for (rz_fu_map_entry_t **pe = &map->buckets[rz_fu_map_bucket(map, key)];
         *pe != NULL; pe = &(*pe)->next) {
        rz_fu_map_entry_t *e = *pe;
        if (strcmp(e->key, key) == 0) {
            void *val = e->val;
            *pe = e->next;
            free(e->key);
            free(e);
            map->n--;
            return val;
        }
    }
    return NULL;
}

void rz_fu_map_clear(rz_fu_map_t *map, void (*fn)(void *val))
{
    for (size_t i = 0; i < map->nbuckets; i++) {
        rz_fu_map_entry_t *e = map->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            if (fn != NULL) {
                fn(e->val);
            }
            free(e->key);
            free(e);
        }
    }
    free(map->buckets);
    memset(map, 0, sizeof(*map));
}

/* ------------------------------------------------------------ buffers */

void rz_fu_buf_put(rz_fu_buf_t *b, const void *data, size_t len)
{
    if (b->oom) {
        return;
    }
    if (b->len + len > b->cap) {
        size_t cap = RZ_FU_MAX(b->cap * 2, b->len + len + 256);
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

void rz_fu_buf_u8(rz_fu_buf_t *b, uint8_t v)
{
    rz_fu_buf_put(b, &v, 1);
}

void rz_fu_buf_u32(rz_fu_buf_t *b, uint32_t v)
{
    rz_fu_buf_put(b, &v, sizeof(v));
}

void rz_fu_buf_u64(rz_fu_buf_t *b, uint64_t v)
{
    rz_fu_buf_put(b, &v, sizeof(v));
}

void rz_fu_buf_str(rz_fu_buf_t *b, const char *s, size_t len)
{
    rz_fu_buf_u32(b, (uint32_t)len);
    rz_fu_buf_put(b, s, len);
}

static int rz_fu_rd(rz_fu_rd_t *r, void *out, size_t len)
{
    if (r->bad || len > r->len - r->pos) {
        r->bad = 1;
        return -1;
    }
    memcpy(out, r->p + r->pos, len);
    r->pos += len;
    return 0;
}

int rz_fu_rd_u8(rz_fu_rd_t *r, uint8_t *v)
{
    return rz_fu_rd(r, v, 1);
}

int rz_fu_rd_u32(rz_fu_rd_t *r, uint32_t *v)
{
    return rz_fu_rd(r, v, sizeof(*v));
}

int rz_fu_rd_u64(rz_fu_rd_t *r, uint64_t *v)
{
    return rz_fu_rd(r, v, sizeof(*v));
}

int rz_fu_rd_str(rz_fu_rd_t *r, const char **s, size_t *len)
{
    uint32_t n;

    if (rz_fu_rd_u32(r, &n) != 0 || n > r->len - r->pos) {
        r->bad = 1;
        return -1;
    }
    *s = (const char *)r->p + r->pos;
    *len = n;
    r->pos += n;
    return 0;
}
