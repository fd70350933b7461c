/*
 * Internals of the fusion engine (include/ringzip/fusion.h), shared by
 *   rz_fusion.c        the API, tensor handles, the background thread;
 *   rz_fusion_coord.c  one cycle: the cache AND, the negotiation through
 *                      rank 0, fusion grouping, stall inspection;
 *   rz_fusion_exec.c   running a group (fusion buffer, rz_allreduce, the
 *                      per-tensor compressed exchange) and the timeline;
 *   rz_fusion_map.c    a string-keyed hash map.
 *
 * Threads: user threads enqueue, test and wait; everything else runs on the
 * engine's thread, on its own duplicate communicator. fu->lock guards the
 * incoming queue, the active list, the counters and the engine status;
 * the rest of the engine state belongs to the engine thread alone.
 */
#ifndef RZ_FUSION_INT_H
#define RZ_FUSION_INT_H

#include <ringzip/coll.h>
#include <ringzip/fusion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define RZ_FUSION_MAGIC 0x525a465553494f4eull /* "RZFUSION" */
#define RZ_FU_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ------------------------------------------------------------ hash map */

typedef struct rz_fu_map_entry {
    struct rz_fu_map_entry *next;
    char                   *key;  /* owned copy */
    void                   *val;
} rz_fu_map_entry_t;

typedef struct {
    rz_fu_map_entry_t **buckets;
    size_t              nbuckets; /* power of two, or 0 before first put */
    size_t              n;
} rz_fu_map_t;

void *rz_fu_map_get(const rz_fu_map_t *map, const char *key);
/* Insert or replace; RZ_ERR_NO_MEMORY leaves the map unchanged. */
rz_status_t rz_fu_map_put(rz_fu_map_t *map, const char *key, void *val);
/* Remove @key; returns its value (NULL if absent). */
void *rz_fu_map_del(rz_fu_map_t *map, const char *key);
/* Call @fn on every value, then empty the map. */
void rz_fu_map_clear(rz_fu_map_t *map, void (*fn)(void *val));

/* ------------------------------------------------------------ buffers */

/* A growable byte buffer for the negotiation messages. */
typedef struct {
    uint8_t *p;
    size_t   len;
    size_t   cap;
    int      oom;   /* an append failed: the content is incomplete */
} rz_fu_buf_t;

void rz_fu_buf_put(rz_fu_buf_t *b, const void *data, size_t len);
void rz_fu_buf_u8(rz_fu_buf_t *b, uint8_t v);
void rz_fu_buf_u32(rz_fu_buf_t *b, uint32_t v);
void rz_fu_buf_u64(rz_fu_buf_t *b, uint64_t v);
void rz_fu_buf_str(rz_fu_buf_t *b, const char *s, size_t len);

/* Bounds-checked reader: every get fails (returns -1, sets bad) past the end. */
typedef struct {
    const uint8_t *p;
    size_t         len;
    size_t         pos;
    int            bad;
} rz_fu_rd_t;

int rz_fu_rd_u8(rz_fu_rd_t *r, uint8_t *v);
int rz_fu_rd_u32(rz_fu_rd_t *r, uint32_t *v);
int rz_fu_rd_u64(rz_fu_rd_t *r, uint64_t *v);
/* A length-prefixed string: points into the buffer, not NUL-terminated. */
int rz_fu_rd_str(rz_fu_rd_t *r, const char **s, size_t *len);

/* ------------------------------------------------------------ tensors */

/* What must agree across ranks for a name. */
typedef struct {
    uint64_t count;
    uint64_t comp_sig;  /* 0: uncompressed */
    uint8_t  dtype;
    uint8_t  op;
} rz_fu_params_t;

/* One enqueued tensor: the user's handle. */
struct rz_fusion_op {
    struct rz_fusion_op *next;        /* engine thread's pending list */
    struct rz_fusion_op *anext;       /* active list (under lock) */
    struct rz_fusion_op *aprev;
    struct rz_fusion    *fu;          /* set at enqueue, never cleared;
                                         used only while not done */
    char                *name;
    size_t               name_len;
    const void          *sbuf;
    void                *rbuf;
    rz_fu_params_t       prm;
    size_t               bytes;
    int                  compressed;
    rz_fusion_compression_t comp;     /* compressor strings: below */
    char                *wspec;
    char                *sspec;
    uint64_t             seq;         /* enqueue order on this rank */
    atomic_int           done;
    atomic_int           refs;        /* user + engine */
    rz_status_t          status;
    /* Engine thread only. */
    int                  cache_slot;  /* -1: not a cache hit */
    int                  reported;    /* sent to rank 0 */
    uint64_t             t_enqueue;   /* ns */
    uint64_t             t_sched;     /* when it was scheduled */
};
typedef struct rz_fusion_op rz_fu_op_t;

/* A cache entry: a name and the parameters it was last reduced with. */
typedef struct {
    char          *name;        /* NULL: free slot */
    rz_fu_params_t prm;
    size_t         bytes;
    uint64_t       last_use;    /* identical on every rank */
    int            poisoned;    /* failed to enter here (out of memory):
                                   the next cycle evicts it everywhere */
} rz_fu_slot_t;

/* Coordinator (rank 0): what each rank reported for a name. */
typedef struct {
    int             nreported;
    uint8_t        *reported;   /* nranks flags */
    rz_fu_params_t *prm;        /* nranks entries */
} rz_fu_entry_t;

/* Per-name engine state: the compression context of the name. */
typedef struct {
    rz_ef_h  ef;
    uint64_t comp_sig;
    uint64_t count;
    int      tid;               /* timeline row, 0: none yet */
} rz_fu_tensor_t;

/* ------------------------------------------------------------ engine */

struct rz_fusion {
    uint64_t            magic;
    rz_comm_h           comm;       /* the engine's duplicate */
    int                 rank;
    int                 nranks;
    rz_fusion_config_t  cfg;
    uint64_t            cycle_ns;
    uint64_t            t0;         /* creation time, ns */

    pthread_t           thread;
    int                 thread_started;
    pthread_mutex_t     lock;
    pthread_cond_t      wake;       /* the engine thread sleeps on it */
    pthread_cond_t      done_cond;  /* user threads wait on it */
    /* Under lock. */
    rz_fu_op_t         *in_head;    /* enqueued, not yet taken */
    rz_fu_op_t         *in_tail;
    rz_fu_op_t         *act_head;   /* not complete, in enqueue order */
    rz_fu_op_t         *act_tail;
    rz_fu_map_t         active;     /* name -> op, not complete */
    uint64_t            next_seq;
    int                 stop;       /* rz_fusion_destroy() was called */
    int                 dozing;     /* the thread sleeps a backed-off
                                       cycle: an enqueue wakes it */
    int                 stopped;    /* the thread has exited */
    rz_status_t         error;      /* why it stopped, RZ_OK while running */
    uint64_t            first_failed; /* lowest seq the stop failed */
    rz_fusion_stats_t   stats;

    /* Engine thread only. */
    rz_fu_op_t         *pend;       /* taken from the queue, not complete */
    rz_fu_slot_t       *slots;      /* cache_capacity entries */
    int                 nslots;     /* high-water mark of used slots */
    uint64_t            use_clock;
    rz_fu_map_t         cache;      /* name -> slot index + 1 */
    rz_fu_map_t         table;      /* rank 0: name -> rz_fu_entry_t */
    rz_fu_map_t         tensors;    /* name -> rz_fu_tensor_t */
    rz_fu_map_t         warned;     /* rank 0: name -> last warning (ns) */
    uint64_t            last_census;
    int                 busy;       /* this cycle ran or held something */
    int                 idle_cycles;
    uint8_t            *vec;        /* the cycle's AND vector */
    size_t              vec_cap;
    void               *fbuf;       /* fusion buffer */
    size_t              fbuf_cap;
    /* Timeline. */
    FILE               *tl;
    int                 tl_first;
    int                 tl_next_tid;
};
typedef struct rz_fusion rz_fusion_t;

/* rz_fusion.c: complete @op with @status (engine thread; takes the lock). */
void rz_fu_complete(rz_fusion_t *fu, rz_fu_op_t *op, rz_status_t status);

/* rz_fusion_coord.c: grouping, scheduling and the response cache, shared
 * with the negotiation. */
typedef struct {
    const rz_fu_params_t *prm;
    size_t                bytes;
} rz_fu_desc_t;

int rz_fu_prm_equal(const rz_fu_params_t *a, const rz_fu_params_t *b);
/* Group @n tensors: @perm receives their indices in execution order and
 * @gend[g] the end (in perm) of group g. Returns the number of groups. */
int rz_fu_make_groups(size_t threshold, const rz_fu_desc_t *d, int n,
                      int *perm, int *gend, uint8_t *placed);
/* Unlink @ops from the pending list (before completing them). */
void rz_fu_pend_remove(rz_fusion_t *fu, rz_fu_op_t **ops, int n);
/* Group and run @n ops, ready on every rank, in the global order. */
rz_status_t rz_fu_schedule(rz_fusion_t *fu, rz_fu_op_t **ops, int n);
/* Enter a tensor every rank reduces (identically on every rank). */
void rz_fu_cache_insert(rz_fusion_t *fu, const rz_fu_op_t *op);
void rz_fu_entry_free(void *val);

/* rz_fusion_negotiate.c: report, coordinate at rank 0, broadcast, apply.
 * @census: also list every pending tensor for the stall inspection. */
#define RZ_FU_REQ        1u  /* report entry: a tensor for rank 0's table */
#define RZ_FU_CENSUS     2u  /* report entry: a tensor held (stall check) */
#define RZ_FU_RESP_GROUP 0u
#define RZ_FU_RESP_ERROR 1u
rz_status_t rz_fu_negotiate(rz_fusion_t *fu, int census);

/* rz_fusion_coord.c: one cycle. @stopping: this rank wants to shut down.
 * Returns RZ_OK to go on; an error stops the engine (RZ_ERR_ABORTED: a
 * rank shut the engine down). */
rz_status_t rz_fu_cycle(rz_fusion_t *fu, int stopping);
/* Free the coordinator's and the cache's state. */
void rz_fu_coord_cleanup(rz_fusion_t *fu);

/* rz_fusion_exec.c: reduce @n ops of one group (same dtype, op and
 * compression) and complete them. Returns an error only when the
 * communicator failed (the engine must stop). */
rz_status_t rz_fu_exec_group(rz_fusion_t *fu, rz_fu_op_t **ops, int n);
void rz_fu_exec_cleanup(rz_fusion_t *fu);
/* Timeline. */
rz_status_t rz_fu_timeline_open(rz_fusion_t *fu);
void rz_fu_timeline_close(rz_fusion_t *fu);
void rz_fu_timeline_event(rz_fusion_t *fu, const rz_fu_op_t *op,
                          const char *phase, uint64_t start_ns,
                          uint64_t end_ns, const char *args_json);

/* A 64-bit hash of bytes (FNV-1a), to sign compression settings. */
uint64_t rz_fu_hash(uint64_t h, const void *data, size_t len);

#endif
