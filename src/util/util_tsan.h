/*
 * ThreadSanitizer and memory that other processes order.
 *
 * A peer's one-sided WRITE lands in this process's memory on a transport
 * server thread, and the owner reads it once a barrier through another
 * process (the config store, a shared-memory flag) says the writer is done.
 * That barrier is real ordering, but TSan sees only this process, so it
 * reports the owner's read against the server thread's write (and a READ
 * served from memory the owner later rewrites). The transport releases one
 * sync object after each request it served (util_tsan_remote_done), and
 * whoever waited for such a cross-process barrier acquires it
 * (util_tsan_remote_seen): exactly the edge the other process provides,
 * nothing else. Both are no-ops in builds without TSan.
 */
#ifndef UTIL_TSAN_H
#define UTIL_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define UTIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UTIL_TSAN 1
#endif
#endif

#ifdef UTIL_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char util_tsan_remote_sync;
static inline void util_tsan_remote_done(void) { __tsan_release(&util_tsan_remote_sync); }
static inline void util_tsan_remote_seen(void) { __tsan_acquire(&util_tsan_remote_sync); }
#else
static inline void util_tsan_remote_done(void) {}
static inline void util_tsan_remote_seen(void) {}
#endif

#endif
