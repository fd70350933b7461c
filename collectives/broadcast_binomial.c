/*
 * Binomial-tree broadcast over ranks relative to the root: receive once
 * from the parent, then send to every child at once (log2 K sends).
 */
#include "collectives/rz_coll.h"

#include <string.h>

rz_status_t rz_broadcast_binomial_progress(rz_request_t *req)
{
    const int K = req->comm->nranks, r = req->comm->rank;
    const int vr = (r - req->root + K) % K;
    const size_t bytes = req->count * req->esize;
    int mask = 1;

    switch (req->step++) {
    case 0:
        if (vr == 0) {
            if (req->sbuf != req->rbuf && bytes > 0) {
                memcpy(req->rbuf, req->sbuf, bytes);
            }
            return rz_broadcast_binomial_progress(req);
        }
        while (!(vr & mask)) {
            mask <<= 1;
        }
        rz_request_recv(req, (vr - mask + req->root) % K, 0, req->rbuf, bytes);
        return RZ_INPROGRESS;
    case 1:
        /* Children are vr + m for every power of two m below vr's lowest
         * set bit (all of them for the root). */
        while (mask < K && !(vr & mask)) {
            if (vr + mask < K) {
                rz_request_send(req, (vr + mask + req->root) % K, 0,
                                req->rbuf, bytes);
            }
            mask <<= 1;
        }
        return req->nops > 0 ? RZ_INPROGRESS : RZ_OK;
    default:
        return RZ_OK;
    }
}
