/* ckpt_hook: let a program take part in its own checkpoint (see
 * core/hooks/PROTOCOL.md). Plain C11, no dependencies but libc and pthreads.
 *
 *   static int pre_dump(const char* image, int kill, int* ext, int max,
 *                       char* err, size_t errsz, void* user) { ...quiesce...; return 0; }
 *   struct ckpt_hook_callbacks cb = {pre_dump, resumed, restarted};
 *   ckpt_hook_start("myprog", &cb, state);
 *
 * Callbacks run on the hook's thread (ckpt_hook_start) or inside
 * ckpt_hook_dispatch (poll style), one at a time, never concurrently. */
#ifndef CKPT_HOOK_H
#define CKPT_HOOK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The abstract socket name is this prefix followed by the name given. */
#define CKPT_HOOK_PREFIX "ckpt-hook:"

/* Room for the reason a callback may write when it fails. */
#define CKPT_HOOK_ERROR_MAX 512

struct ckpt_hook_callbacks {
  /* A dump is about to freeze the tree that holds this process. Quiesce
   * (stop touching what the image must hold consistently), then return how
   * many fds were written to `external_fds` (at most `max_external`): fds
   * the program re-creates itself after a restore (a connection to a server
   * outside the tree, say); ckpt saves them as if closed by their peer.
   * Return -1 after writing a reason into `error` to refuse the dump: ckpt
   * aborts it and leaves the tree running. `kill` is 1 when the tree is
   * killed after a successful dump (no `resumed` follows then). NULL: 0. */
  int (*pre_dump)(const char* image, int kill, int* external_fds, int max_external, char* error,
                  size_t error_size, void* user);
  /* The dump is over and the program goes on (called only after pre_dump
   * succeeded). `failed` is 1 when the dump did not complete; `error` then
   * says why (NULL otherwise). Also called with failed = 1 when ckpt goes
   * away in the middle of a dump, so a program never stays quiesced. */
  void (*resumed)(int failed, const char* error, void* user);
  /* This process was restored from an image and runs again. `options_json`
   * is the JSON object of the restore's --hook-option values (read one with
   * ckpt_hook_option). Return 0, or -1 after writing a reason into `error`:
   * `ckpt restore` then reports the failure. */
  int (*restarted)(const char* options_json, char* error, size_t error_size, void* user);
};

/* Listens on "ckpt-hook:<name>" and serves it on a thread of its own (all
 * signals blocked there, so it never takes the program's signals).
 * Returns 0, or -1 with errno set (EADDRINUSE: the name is taken). */
int ckpt_hook_start(const char* name, const struct ckpt_hook_callbacks* cb, void* user);

/* Poll style, for single-threaded programs: ckpt_hook_open listens;
 * ckpt_hook_fd is one fd (stable for the handle's life) that polls readable
 * when there is something to do; ckpt_hook_dispatch then does it without
 * blocking, running callbacks as events arrive. Returns NULL/-1 with errno. */
struct ckpt_hook;
struct ckpt_hook* ckpt_hook_open(const char* name, const struct ckpt_hook_callbacks* cb,
                                 void* user);
int ckpt_hook_fd(const struct ckpt_hook* hook);
int ckpt_hook_dispatch(struct ckpt_hook* hook);
void ckpt_hook_close(struct ckpt_hook* hook);

/* Copies the string value of `key` in a JSON object (options_json) into
 * out (NUL-terminated). Returns its length, or -1 when the key is missing,
 * not a string, or does not fit in out_size. */
int ckpt_hook_option(const char* options_json, const char* key, char* out, size_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* CKPT_HOOK_H */
