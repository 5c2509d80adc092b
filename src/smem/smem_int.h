/*
 * Internal state shared by every smem API file (BM, SHM, Trans): the table of
 * live handles, the config-store connection with its TLS settings, and small
 * helpers. Per API: smem_bm_int.h, smem_trans_int.h.
 */
#ifndef SMEM_INT_H
#define SMEM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"
#include "store/store.h"

/*
 * Copy the process-wide config-store TLS settings into *out. Pointers in
 * *out (key_pem, key_pass) refer to library-owned copies that stay valid
 * until the next smem_set_config_store_tls_key or smem_uninit.
 */
void sm_store_tls_opts_get(net_tls_opts_t *out);
/* Set them from files' file block and enable (what smem_set_conf_store_tls
 * sets); an in-memory key given by smem_set_config_store_tls_key is kept. */
void sm_store_tls_opts_set(const net_tls_opts_t *files);

/* Parse a smem_set_conf_store_tls info string into opts (paths only). */
int32_t sm_tls_info_parse(const char *info, uint32_t len, net_tls_opts_t *opts);

/*
 * A process table of live API objects (BM objects, Trans instances): a handle
 * is the object's address, checked against the table before use (a destroyed
 * or foreign pointer is SMEM_INVALID_PARAM, never dereferenced). get takes a
 * reference (the uint32_t at refs_off in the object, atomic) under the API's
 * lock; put drops it and wakes destroy (cv) at zero.
 */
typedef struct sm_handles {
    pthread_mutex_t *lock;
    pthread_cond_t *cv;
    void *const *objs; /* n slots, NULL when free */
    uint32_t n;
    size_t refs_off;
    const char *kind; /* for the message: "is not a live <kind>" */
    /* The seed's precedence: a NULL handle, then "the API is not initialised"
     * (*inited false, read under lock: status uninit_code, message names
     * init_call), then an unknown handle. */
    const bool *inited;
    int32_t uninit_code;
    const char *init_call;
} sm_handles_t;
/* NULL on failure, with the message set; sm_handle_status() is then the code to return. */
void *sm_handle_get(const sm_handles_t *t, const void *h, const char *what);
int32_t sm_handle_status(void);
void sm_handle_put(const sm_handles_t *t, void *obj);

/* A config-store connection of one API (BM, SHM, Trans) with its TLS context. */
typedef struct sm_store_conn {
    store_client_t *client;
    net_tls_t *tls; /* owned; outlives client */
    bool owner;     /* this call started the embedded store on the URL */
} sm_store_conn_t;

/* Whether url names this host: loopback, a unix socket, or an address of one of our interfaces. */
bool sm_url_is_local(const char *url);

/*
 * Connect to the store at url (retrying for connect_ms; calls then time out
 * after call_ms). With start_server and a URL of this host, first race to
 * start an embedded store there (out->owner tells the winner; a loser just
 * connects; a store refused by the listen policy fails the call). TLS: the
 * process-wide settings (smem_set_conf_store_tls).
 * On failure a store this call started is stopped again.
 */
int32_t sm_store_conn_open(const char *url, bool start_server, bool allow_insecure, uint32_t connect_ms,
                             uint32_t call_ms, sm_store_conn_t *out);
/* smem_create_config_store with the listen policy's switch given (docs/CONFIG.md "Listening beyond loopback"):
 * the public call passes SMEM_ALLOW_INSECURE=1, smem_bm_init also its SMEM_BM_FLAG_ALLOW_INSECURE. */
int32_t sm_config_store_start(const char *store_url, bool allow_insecure);
/* Closes the client (and stops the embedded store when we own it). */
void sm_store_conn_close(sm_store_conn_t *c, const char *url);

/*
 * The store's owner stays until the other members of `group` have gone
 * (their liveness keys deleted) or timeout_ms: it serves them. Event-driven
 * (a watch on the liveness prefix), no polling.
 */
void sm_store_owner_wait(store_client_t *c, const char *group, uint32_t me, uint32_t timeout_ms);

/* Seconds from a config (0 = the default 120 s) to milliseconds, capped. */
uint32_t sm_timeout_ms(uint32_t seconds);

#endif /* SMEM_INT_H */
