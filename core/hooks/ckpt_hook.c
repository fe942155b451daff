/* ckpt_hook: the program's side of the hook protocol (PROTOCOL.md): a
 * listening SOCK_SEQPACKET socket, one JSON object per message, and just
 * enough JSON to read ckpt's messages and write the replies. */
#define _GNU_SOURCE 1
#include "ckpt_hook.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
  kMaxMessage = 64 * 1024,
  kMaxExternal = 256,
  kMaxDepth = 32,
  kMaxPath = 4096,
};

/* ------------------------------------------------------------ reading JSON */

struct reader {
  const char* p;
  const char* end;
};

static void skip_ws(struct reader* r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int hex4(const char* p, unsigned* out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

/* Appends one byte if there is room (and always counts it). */
static void put(char* out, size_t cap, size_t* len, char c) {
  if (out && *len + 1 < cap) out[*len] = c;
  (*len)++;
}

static void put_utf8(char* out, size_t cap, size_t* len, unsigned cp) {
  if (cp < 0x80) {
    put(out, cap, len, (char)cp);
  } else if (cp < 0x800) {
    put(out, cap, len, (char)(0xc0 | (cp >> 6)));
    put(out, cap, len, (char)(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    put(out, cap, len, (char)(0xe0 | (cp >> 12)));
    put(out, cap, len, (char)(0x80 | ((cp >> 6) & 0x3f)));
    put(out, cap, len, (char)(0x80 | (cp & 0x3f)));
  } else {
    put(out, cap, len, (char)(0xf0 | (cp >> 18)));
    put(out, cap, len, (char)(0x80 | ((cp >> 12) & 0x3f)));
    put(out, cap, len, (char)(0x80 | ((cp >> 6) & 0x3f)));
    put(out, cap, len, (char)(0x80 | (cp & 0x3f)));
  }
}

/* Reads a string at r->p into out (NUL-terminated, cut to cap; out may be
 * NULL to skip it); *len gets its full decoded length. 0, or -1. */
static int read_string(struct reader* r, char* out, size_t cap, size_t* len) {
  size_t n = 0;
  if (r->p >= r->end || *r->p != '"') return -1;
  r->p++;
  for (;;) {
    if (r->p >= r->end) return -1;
    unsigned char c = (unsigned char)*r->p++;
    if (c == '"') break;
    if (c < 0x20) return -1;
    if (c != '\\') {
      put(out, cap, &n, (char)c);
      continue;
    }
    if (r->p >= r->end) return -1;
    char e = *r->p++;
    switch (e) {
      case '"':
        put(out, cap, &n, '"');
        break;
      case '\\':
        put(out, cap, &n, '\\');
        break;
      case '/':
        put(out, cap, &n, '/');
        break;
      case 'b':
        put(out, cap, &n, '\b');
        break;
      case 'f':
        put(out, cap, &n, '\f');
        break;
      case 'n':
        put(out, cap, &n, '\n');
        break;
      case 'r':
        put(out, cap, &n, '\r');
        break;
      case 't':
        put(out, cap, &n, '\t');
        break;
      case 'u': {
        unsigned cp, lo;
        if (r->end - r->p < 4 || hex4(r->p, &cp) != 0) return -1;
        r->p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &lo) != 0 ||
              lo < 0xdc00 || lo > 0xdfff)
            return -1;
          r->p += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          return -1;
        }
        put_utf8(out, cap, &n, cp);
        break;
      }
      default:
        return -1;
    }
  }
  if (out && cap > 0) out[n < cap ? n : cap - 1] = '\0';
  if (len) *len = n;
  return 0;
}

static int skip_value(struct reader* r, int depth);

static int skip_container(struct reader* r, int depth, char close, int object) {
  r->p++;
  skip_ws(r);
  if (r->p < r->end && *r->p == close) {
    r->p++;
    return 0;
  }
  for (;;) {
    if (object) {
      skip_ws(r);
      if (read_string(r, NULL, 0, NULL) != 0) return -1;
      skip_ws(r);
      if (r->p >= r->end || *r->p++ != ':') return -1;
    }
    if (skip_value(r, depth + 1) != 0) return -1;
    skip_ws(r);
    if (r->p >= r->end) return -1;
    char c = *r->p++;
    if (c == close) return 0;
    if (c != ',') return -1;
  }
}

static int literal(struct reader* r, const char* word) {
  size_t n = strlen(word);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return -1;
  r->p += n;
  return 0;
}

static int skip_value(struct reader* r, int depth) {
  if (depth > kMaxDepth) return -1;
  skip_ws(r);
  if (r->p >= r->end) return -1;
  switch (*r->p) {
    case '{':
      return skip_container(r, depth, '}', 1);
    case '[':
      return skip_container(r, depth, ']', 0);
    case '"':
      return read_string(r, NULL, 0, NULL);
    case 't':
      return literal(r, "true");
    case 'f':
      return literal(r, "false");
    case 'n':
      return literal(r, "null");
    default:
      break;
  }
  const char* start = r->p;
  while (r->p < r->end && strchr("+-0123456789.eE", *r->p)) r->p++;
  return r->p > start ? 0 : -1;
}

static int read_bool(struct reader* r, int* out) {
  skip_ws(r);
  if (literal(r, "true") == 0) {
    *out = 1;
    return 0;
  }
  if (literal(r, "false") == 0) {
    *out = 0;
    return 0;
  }
  return -1;
}

/* Calls fn for every member of the object at r->p, with r at the value;
 * fn reads (or skips) the value. 0, or -1 on malformed input. */
typedef int (*member_fn)(struct reader* r, const char* key, void* arg);

static int for_each_member(struct reader* r, member_fn fn, void* arg) {
  skip_ws(r);
  if (r->p >= r->end || *r->p != '{') return -1;
  r->p++;
  skip_ws(r);
  if (r->p < r->end && *r->p == '}') {
    r->p++;
    return 0;
  }
  for (;;) {
    char key[64];
    size_t klen;
    skip_ws(r);
    if (read_string(r, key, sizeof key, &klen) != 0) return -1;
    if (klen >= sizeof key) key[0] = '\0'; /* no key we know is that long */
    skip_ws(r);
    if (r->p >= r->end || *r->p++ != ':') return -1;
    skip_ws(r);
    if (fn(r, key, arg) != 0) return -1;
    skip_ws(r);
    if (r->p >= r->end) return -1;
    char c = *r->p++;
    if (c == '}') return 0;
    if (c != ',') return -1;
  }
}

/* What ckpt's messages hold (PROTOCOL.md). */
struct message {
  char event[32];
  char image[kMaxPath];
  int kill;
  int dump_failed;
  int has_error;
  char error[CKPT_HOOK_ERROR_MAX];
  const char* options; /* raw text of the options object, in the message */
  size_t options_len;
};

static int message_member(struct reader* r, const char* key, void* arg) {
  struct message* m = arg;
  if (strcmp(key, "event") == 0) return read_string(r, m->event, sizeof m->event, NULL);
  if (strcmp(key, "image") == 0) return read_string(r, m->image, sizeof m->image, NULL);
  if (strcmp(key, "kill") == 0) return read_bool(r, &m->kill);
  if (strcmp(key, "dump_failed") == 0) return read_bool(r, &m->dump_failed);
  if (strcmp(key, "error") == 0) {
    m->has_error = 1;
    return read_string(r, m->error, sizeof m->error, NULL);
  }
  if (strcmp(key, "options") == 0) {
    if (r->p >= r->end || *r->p != '{') return -1;
    m->options = r->p;
    if (skip_value(r, 1) != 0) return -1;
    m->options_len = (size_t)(r->p - m->options);
    return 0;
  }
  return skip_value(r, 1);
}

static int parse_message(const char* text, size_t len, struct message* m) {
  struct reader r = {text, text + len};
  memset(m, 0, sizeof *m);
  if (for_each_member(&r, message_member, m) != 0) return -1;
  skip_ws(&r);
  return r.p == r.end && m->event[0] ? 0 : -1;
}

struct option_lookup {
  const char* key;
  char* out;
  size_t out_size;
  int found;
};

static int option_member(struct reader* r, const char* key, void* arg) {
  struct option_lookup* o = arg;
  if (strcmp(key, o->key) != 0 || r->p >= r->end || *r->p != '"') return skip_value(r, 1);
  size_t len;
  if (read_string(r, o->out, o->out_size, &len) != 0) return -1;
  o->found = len < o->out_size && memchr(o->out, '\0', len) == NULL ? (int)len : -1;
  return 0;
}

int ckpt_hook_option(const char* options_json, const char* key, char* out, size_t out_size) {
  if (!options_json || !key || !out || out_size == 0) return -1;
  struct option_lookup o = {key, out, out_size, -1};
  struct reader r = {options_json, options_json + strlen(options_json)};
  if (for_each_member(&r, option_member, &o) != 0) return -1;
  return o.found;
}

/* ------------------------------------------------------------ writing JSON */

struct writer {
  char buf[CKPT_HOOK_ERROR_MAX * 6 + kMaxExternal * 12 + 64];
  size_t len;
};

static void append(struct writer* w, const char* s) {
  size_t n = strlen(s);
  if (w->len + n < sizeof w->buf) {
    memcpy(w->buf + w->len, s, n);
    w->len += n;
  }
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char* s, size_t n) {
  size_t len;
  unsigned cp, min;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    len = 2, cp = s[0] & 0x1fu, min = 0x80;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    len = 3, cp = s[0] & 0x0fu, min = 0x800;
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    len = 4, cp = s[0] & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3fu);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/* A JSON string; bytes that are not UTF-8 become '?', so ckpt can parse it. */
static void append_string(struct writer* w, const char* s) {
  const unsigned char* p = (const unsigned char*)s;
  size_t n = strlen(s);
  append(w, "\"");
  for (size_t i = 0; i < n;) {
    char tmp[8];
    if (p[i] == '"' || p[i] == '\\') {
      tmp[0] = '\\', tmp[1] = (char)p[i], tmp[2] = '\0';
      i++;
    } else if (p[i] < 0x20) {
      snprintf(tmp, sizeof tmp, "\\u%04x", p[i]);
      i++;
    } else if (p[i] < 0x80) {
      tmp[0] = (char)p[i], tmp[1] = '\0';
      i++;
    } else {
      size_t len = utf8_len(p + i, n - i);
      if (len == 0) {
        tmp[0] = '?', tmp[1] = '\0';
        i++;
      } else {
        memcpy(tmp, p + i, len);
        tmp[len] = '\0';
        i += len;
      }
    }
    append(w, tmp);
  }
  append(w, "\"");
}

/* ------------------------------------------------------------ the hook */

struct ckpt_hook {
  struct ckpt_hook_callbacks cb;
  void* user;
  int listen_fd;
  int conn_fd;
  int epoll_fd;    /* poll style only */
  int quiesced;    /* pre_dump succeeded; resumed (or restarted) not yet seen */
  ino_t dump_conn; /* inode of the connection that carried that pre-dump */
  char msg[kMaxMessage + 1];
};

static void reply(struct ckpt_hook* h, const struct writer* w) {
  /* The peer may be gone (a dump that timed out): nothing to do then. */
  (void)send(h->conn_fd, w->buf, w->len, MSG_NOSIGNAL);
}

static void reply_ok(struct ckpt_hook* h, const int* fds, int n) {
  struct writer w = {.len = 0};
  append(&w, "{\"ok\":true");
  if (fds) {
    append(&w, ",\"external\":[");
    for (int i = 0; i < n; i++) {
      char num[16];
      snprintf(num, sizeof num, "%s%d", i ? "," : "", fds[i]);
      append(&w, num);
    }
    append(&w, "]");
  }
  append(&w, "}");
  reply(h, &w);
}

static void reply_error(struct ckpt_hook* h, const char* error) {
  struct writer w = {.len = 0};
  append(&w, "{\"ok\":false,\"error\":");
  append_string(&w, error);
  append(&w, "}");
  reply(h, &w);
}

static ino_t inode_of(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static void on_pre_dump(struct ckpt_hook* h, const struct message* m) {
  int fds[kMaxExternal];
  char error[CKPT_HOOK_ERROR_MAX] = "";
  int n = 0;
  if (h->cb.pre_dump)
    n = h->cb.pre_dump(m->image, m->kill, fds, kMaxExternal, error, sizeof error, h->user);
  error[sizeof error - 1] = '\0';
  if (n < 0 || n > kMaxExternal) {
    if (n >= 0)
      snprintf(error, sizeof error, "pre_dump returned %d external fds (max %d)", n, kMaxExternal);
    reply_error(h, error[0] ? error : "the program refused the dump");
    return;
  }
  h->quiesced = 1;
  h->dump_conn = inode_of(h->conn_fd);
  reply_ok(h, fds, n);
}

static void on_resumed(struct ckpt_hook* h, int failed, const char* error) {
  if (!h->quiesced) return;
  h->quiesced = 0;
  if (h->cb.resumed) h->cb.resumed(failed, failed ? error : NULL, h->user);
}

static void on_restarted(struct ckpt_hook* h, const struct message* m) {
  char error[CKPT_HOOK_ERROR_MAX] = "";
  const char* options = "{}";
  if (m->options) {
    /* The object is followed by at least its message's closing brace, so
     * it can be ended in place: the message is not read again. */
    ((char*)m->options)[m->options_len] = '\0';
    options = m->options;
  }
  h->quiesced = 0;
  if (h->cb.restarted && h->cb.restarted(options, error, sizeof error, h->user) != 0) {
    error[sizeof error - 1] = '\0';
    reply_error(h, error[0] ? error : "the program could not restart");
    return;
  }
  reply_ok(h, NULL, 0);
}

static void handle_message(struct ckpt_hook* h, size_t len) {
  struct message m;
  if (parse_message(h->msg, len, &m) != 0) {
    reply_error(h, "cannot parse the message");
    return;
  }
  if (strcmp(m.event, "pre-dump") == 0) {
    on_pre_dump(h, &m);
  } else if (strcmp(m.event, "resumed") == 0) {
    on_resumed(h, m.dump_failed, m.has_error ? m.error : "the dump failed");
  } else if (strcmp(m.event, "restarted") == 0) {
    on_restarted(h, &m);
  } else {
    char error[96];
    snprintf(error, sizeof error, "unknown event \"%.40s\"", m.event);
    reply_error(h, error);
  }
}

/* The connection ended. During a dump that left us quiesced: if it is still
 * the same socket, ckpt went away, so resume; if it is another one, this
 * process was restored from the image (its sockets are new) and the
 * `restarted` event comes on the next connection. */
static void handle_eof(struct ckpt_hook* h) {
  if (h->quiesced && inode_of(h->conn_fd) == h->dump_conn)
    on_resumed(h, 1, "ckpt closed the connection before the dump ended");
  close(h->conn_fd);
  h->conn_fd = -1;
}

/* One message from conn_fd: 1 handled, 0 the connection ended, -1 EAGAIN. */
static int serve_one(struct ckpt_hook* h, int flags) {
  ssize_t n;
  do {
    n = recv(h->conn_fd, h->msg, kMaxMessage + 1, MSG_TRUNC | flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
  if (n <= 0) {
    handle_eof(h);
    return 0;
  }
  if ((size_t)n > kMaxMessage) {
    reply_error(h, "message too long");
    return 1;
  }
  h->msg[n] = '\0';
  handle_message(h, (size_t)n);
  return 1;
}

static int make_listener(const char* name, int nonblock) {
  struct sockaddr_un sa;
  size_t plen = strlen(CKPT_HOOK_PREFIX);
  if (!name || !*name || strlen(name) + plen + 1 > sizeof sa.sun_path) {
    errno = EINVAL;
    return -1;
  }
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path + 1, CKPT_HOOK_PREFIX, plen);
  memcpy(sa.sun_path + 1 + plen, name, strlen(name));
  /* Abstract names count every byte: no trailing NUL (ckpt connects the same way). */
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + plen + strlen(name));
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  if (bind(fd, (struct sockaddr*)&sa, len) != 0 || listen(fd, 4) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

/* Poll style: the listener never blocks (accept4's SOCK_NONBLOCK is for
 * the new socket only, so the listener itself must be non-blocking). */
static struct ckpt_hook* new_hook(const char* name, const struct ckpt_hook_callbacks* cb,
                                  void* user, int poll_style) {
  struct ckpt_hook* h = calloc(1, sizeof *h);
  if (!h) return NULL;
  if (cb) h->cb = *cb;
  h->user = user;
  h->conn_fd = -1;
  h->epoll_fd = -1;
  h->listen_fd = make_listener(name, poll_style);
  if (h->listen_fd < 0) {
    int err = errno;
    free(h);
    errno = err;
    return NULL;
  }
  return h;
}

/* Only ckpt run by the same user (or root) may tell this program to quiesce
 * or name its fds: any other peer is hung up on at once (SO_PEERCRED). */
static int accept_peer(struct ckpt_hook* h, int flags) {
  for (;;) {
    int fd = accept4(h->listen_fd, NULL, NULL, flags);
    if (fd < 0) return fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
        (cred.uid == 0 || cred.uid == geteuid()))
      return fd;
    close(fd);
  }
}

/* ------------------------------------------------------------ thread style */

static void* hook_thread(void* arg) {
  struct ckpt_hook* h = arg;
  for (;;) {
    h->conn_fd = accept_peer(h, SOCK_CLOEXEC);
    if (h->conn_fd < 0) {
      if (errno == EBADF || errno == EINVAL || errno == ENOTSOCK) return NULL;
      if (errno != EINTR && errno != ECONNABORTED) {
        struct timespec pause = {0, 100 * 1000 * 1000}; /* EMFILE and the like */
        nanosleep(&pause, NULL);
      }
      continue;
    }
    while (serve_one(h, 0) != 0) {
    }
  }
}

int ckpt_hook_start(const char* name, const struct ckpt_hook_callbacks* cb, void* user) {
  struct ckpt_hook* h = new_hook(name, cb, user, 0);
  if (!h) return -1;
  /* The thread is born with every signal blocked: the program's signals
   * keep going to the threads that expect them. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int err = pthread_create(&t, &attr, hook_thread, h);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) {
    close(h->listen_fd);
    free(h);
    errno = err;
    return -1;
  }
  pthread_setname_np(t, "ckpt-hook");
  return 0;
}

/* ------------------------------------------------------------ poll style */

static int watch(struct ckpt_hook* h, int op, int fd) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  return epoll_ctl(h->epoll_fd, op, fd, &ev);
}

struct ckpt_hook* ckpt_hook_open(const char* name, const struct ckpt_hook_callbacks* cb,
                                 void* user) {
  struct ckpt_hook* h = new_hook(name, cb, user, 1);
  if (!h) return NULL;
  h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (h->epoll_fd < 0 || watch(h, EPOLL_CTL_ADD, h->listen_fd) != 0) {
    int err = errno;
    ckpt_hook_close(h);
    errno = err;
    return NULL;
  }
  return h;
}

int ckpt_hook_fd(const struct ckpt_hook* hook) {
  return hook ? hook->epoll_fd : -1;
}

int ckpt_hook_dispatch(struct ckpt_hook* h) {
  if (!h || h->epoll_fd < 0) {
    errno = EINVAL;
    return -1;
  }
  for (;;) {
    if (h->conn_fd < 0) {
      /* One connection at a time: the listener is watched only while idle. */
      h->conn_fd = accept_peer(h, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (h->conn_fd < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED ? 0 : -1;
      }
      epoll_ctl(h->epoll_fd, EPOLL_CTL_DEL, h->listen_fd, NULL);
      if (watch(h, EPOLL_CTL_ADD, h->conn_fd) != 0) return -1;
    }
    int r = serve_one(h, MSG_DONTWAIT);
    if (r < 0) return 0;
    if (r == 0 && watch(h, EPOLL_CTL_ADD, h->listen_fd) != 0) return -1;
  }
}

void ckpt_hook_close(struct ckpt_hook* h) {
  if (!h) return;
  if (h->conn_fd >= 0) close(h->conn_fd);
  if (h->epoll_fd >= 0) close(h->epoll_fd);
  if (h->listen_fd >= 0) close(h->listen_fd);
  free(h);
}
