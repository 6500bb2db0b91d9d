// A raw ICMPv6 socket for Node: what radvd-lite needs and nothing more.
// Node has no raw sockets, and RA/RS handling needs socket options and
// ancillary data (hop limit and arrival interface of each received packet)
// that no maintained npm package exposes. The fd is watched with uv_poll,
// so receiving is event driven (no busy polling, no extra thread).
//
// JS API (wrapped by src/native.ts):
//   open({ ifname, types: number[], groups: string[], loop: bool }, onPacket)
//     -> handle; onPacket(buf, srcAddr, hopLimit, ifindex, dstAddr)
//   send(handle, buf, dstAddr, srcAddr|null, hopLimit) -> bytes sent
//   close(handle)
//   ifindex(name) -> number (0 when the interface does not exist)
// Errors are thrown with `code` set to the errno name (EPERM, ENODEV...).

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_PACKET 65536

typedef struct {
  napi_env env;
  int fd;
  int ifindex;
  uv_poll_t poll;
  napi_ref callback;
  napi_ref self;  // keeps the JS object alive while the socket is open
  napi_async_context async;
  int closed;     // close() was called
  int uv_closed;  // libuv released the poll handle
  int finalized;  // the JS object was collected
} sock_t;

static unsigned char rxbuf[MAX_PACKET];

static const char *errno_code(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EINVAL: return "EINVAL";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETDOWN: return "ENETDOWN";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EAGAIN: return "EAGAIN";
    case ENOBUFS: return "ENOBUFS";
    case EMSGSIZE: return "EMSGSIZE";
    case EBADF: return "EBADF";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_throw_error(env, errno_code(e), msg);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok) return -1;
  return len < cap - 1 ? 0 : -1;
}

static int get_prop(napi_env env, napi_value obj, const char *name,
                    napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has)
    return -1;
  return napi_get_named_property(env, obj, name, out) == napi_ok ? 0 : -1;
}

static void maybe_free(sock_t *s) {
  if (s->uv_closed && s->finalized) free(s);
}

static void on_uv_close(uv_handle_t *h) {
  sock_t *s = (sock_t *)h->data;
  s->uv_closed = 1;
  maybe_free(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sock_t *s = (sock_t *)data;
  s->finalized = 1;
  maybe_free(s);
}

static void do_close(sock_t *s) {
  if (s->closed) return;
  s->closed = 1;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_uv_close);
  close(s->fd);
  s->fd = -1;
  napi_delete_reference(s->env, s->callback);
  napi_async_destroy(s->env, s->async);
  napi_delete_reference(s->env, s->self);
}

// Drains the socket: one JS call per datagram, until EAGAIN or close().
static void on_readable(uv_poll_t *h, int status, int events) {
  sock_t *s = (sock_t *)h->data;
  (void)events;
  if (s->closed || status < 0) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  for (int n = 0; n < 64 && !s->closed; n++) {
    struct sockaddr_in6 from;
    unsigned char cbuf[CMSG_SPACE(sizeof(int)) +
                       CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
    struct iovec iov = {rxbuf, sizeof rxbuf};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t len = recvmsg(s->fd, &msg, MSG_DONTWAIT);
    if (len < 0) break;  // EAGAIN: drained; other errors: try next event
    int hoplimit = -1, ifindex = 0;
    char dst[INET6_ADDRSTRLEN] = "";
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT &&
          c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        memcpy(&hoplimit, CMSG_DATA(c), sizeof(int));
      } else if (c->cmsg_type == IPV6_PKTINFO &&
                 c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
        struct in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        ifindex = (int)pi.ipi6_ifindex;
        inet_ntop(AF_INET6, &pi.ipi6_addr, dst, sizeof dst);
      }
    }
    char src[INET6_ADDRSTRLEN] = "";
    inet_ntop(AF_INET6, &from.sin6_addr, src, sizeof src);
    napi_handle_scope inner;
    napi_open_handle_scope(env, &inner);
    napi_value argv[5], cb, recv, result;
    void *copy = NULL;
    napi_create_buffer_copy(env, (size_t)len, rxbuf, &copy, &argv[0]);
    napi_create_string_utf8(env, src, NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_int32(env, hoplimit, &argv[2]);
    napi_create_int32(env, ifindex, &argv[3]);
    napi_create_string_utf8(env, dst, NAPI_AUTO_LENGTH, &argv[4]);
    napi_get_reference_value(env, s->callback, &cb);
    napi_get_reference_value(env, s->self, &recv);
    napi_status st = napi_make_callback(env, s->async, recv, cb, 5, argv, &result);
    if (st == napi_pending_exception) {
      // An exception in the JS handler must not be swallowed silently.
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      napi_fatal_exception(env, ex);
    }
    napi_close_handle_scope(env, inner);
  }
  napi_close_handle_scope(env, scope);
}

static int set_int(int fd, int level, int opt, int v) {
  return setsockopt(fd, level, opt, &v, sizeof v);
}

// open(options, onPacket)
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t0, t1;
  if (argc < 2 || napi_typeof(env, argv[0], &t0) != napi_ok ||
      t0 != napi_object || napi_typeof(env, argv[1], &t1) != napi_ok ||
      t1 != napi_function)
    return throw_type(env, "open(options, onPacket) expected");

  char ifname[IF_NAMESIZE + 1];
  napi_value v;
  if (get_prop(env, argv[0], "ifname", &v) ||
      get_string(env, v, ifname, sizeof ifname))
    return throw_type(env, "options.ifname must be an interface name");
  unsigned int ifindex = if_nametoindex(ifname);
  if (ifindex == 0) return throw_errno(env, ifname, ENODEV);

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  IPPROTO_ICMPV6);
  if (fd < 0) return throw_errno(env, "socket(AF_INET6, SOCK_RAW, ICMPV6)", errno);

  const char *step = NULL;
  // RFC 4861 6.1: RS and RA are only valid with hop limit 255, so both
  // unicast and multicast sends use 255; receivers check it.
  if (set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255)) step = "IPV6_MULTICAST_HOPS";
  else if (set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255)) step = "IPV6_UNICAST_HOPS";
  else if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname))) step = "SO_BINDTODEVICE";
  else if (set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex)) step = "IPV6_MULTICAST_IF";
  else if (set_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)) step = "IPV6_RECVHOPLIMIT";
  else if (set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)) step = "IPV6_RECVPKTINFO";
  if (!step) {
    bool loop = false;
    if (get_prop(env, argv[0], "loop", &v) == 0) napi_get_value_bool(env, v, &loop);
    if (set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, loop ? 1 : 0)) step = "IPV6_MULTICAST_LOOP";
  }
  if (!step) {
    // Only the ICMPv6 types asked for reach user space.
    struct icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    uint32_t n = 0;
    if (get_prop(env, argv[0], "types", &v) == 0 &&
        napi_get_array_length(env, v, &n) == napi_ok) {
      for (uint32_t i = 0; i < n; i++) {
        napi_value e;
        int32_t type = -1;
        napi_get_element(env, v, i, &e);
        if (napi_get_value_int32(env, e, &type) == napi_ok && type >= 0 &&
            type <= 255)
          ICMP6_FILTER_SETPASS(type, &filter);
      }
    }
    if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter))
      step = "ICMP6_FILTER";
  }
  if (!step && get_prop(env, argv[0], "groups", &v) == 0) {
    uint32_t n = 0;
    napi_get_array_length(env, v, &n);
    for (uint32_t i = 0; i < n && !step; i++) {
      napi_value e;
      char addr[INET6_ADDRSTRLEN];
      napi_get_element(env, v, i, &e);
      struct ipv6_mreq mreq;
      memset(&mreq, 0, sizeof mreq);
      if (get_string(env, e, addr, sizeof addr) ||
          inet_pton(AF_INET6, addr, &mreq.ipv6mr_multiaddr) != 1) {
        close(fd);
        return throw_type(env, "options.groups must hold IPv6 addresses");
      }
      mreq.ipv6mr_interface = ifindex;
      if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq))
        step = "IPV6_JOIN_GROUP";
    }
  }
  if (step) {
    int e = errno;
    close(fd);
    return throw_errno(env, step, e);
  }

  sock_t *s = (sock_t *)calloc(1, sizeof *s);
  s->env = env;
  s->fd = fd;
  s->ifindex = (int)ifindex;
  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  if (uv_poll_init(loop, &s->poll, fd) != 0) {
    close(fd);
    free(s);
    return throw_errno(env, "uv_poll_init", EIO);
  }
  s->poll.data = s;
  napi_value obj, name;
  napi_create_object(env, &obj);
  napi_wrap(env, obj, s, finalize, NULL, NULL);
  napi_create_reference(env, argv[1], 1, &s->callback);
  napi_create_reference(env, obj, 1, &s->self);
  napi_create_string_utf8(env, "radvd-lite:icmp6", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, obj, name, &s->async);
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  napi_value idx;
  napi_create_int32(env, s->ifindex, &idx);
  napi_set_named_property(env, obj, "ifindex", idx);
  return obj;
}

static sock_t *unwrap(napi_env env, napi_value v) {
  sock_t *s = NULL;
  if (napi_unwrap(env, v, (void **)&s) != napi_ok) return NULL;
  return s;
}

// send(handle, buf, dstAddr, srcAddr|null, hopLimit)
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return throw_type(env, "send(handle, buf, dst, src, hopLimit) expected");
  sock_t *s = unwrap(env, argv[0]);
  if (!s) return throw_type(env, "not a socket handle");
  if (s->closed) return throw_errno(env, "send", EBADF);
  void *data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok)
    return throw_type(env, "buf must be a Buffer");
  char addr[INET6_ADDRSTRLEN];
  struct sockaddr_in6 to;
  memset(&to, 0, sizeof to);
  to.sin6_family = AF_INET6;
  if (get_string(env, argv[2], addr, sizeof addr) ||
      inet_pton(AF_INET6, addr, &to.sin6_addr) != 1)
    return throw_type(env, "dst must be an IPv6 address");
  to.sin6_scope_id = (uint32_t)s->ifindex;

  unsigned char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
                     CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {data, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;

  // Source address and outgoing interface travel as IPV6_PKTINFO so the
  // RA leaves from the link-local address RFC 4861 6.1.2 requires.
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
  struct in6_pktinfo pi;
  memset(&pi, 0, sizeof pi);
  pi.ipi6_ifindex = (unsigned)s->ifindex;
  napi_valuetype st;
  napi_typeof(env, argv[3], &st);
  if (st == napi_string) {
    if (get_string(env, argv[3], addr, sizeof addr) ||
        inet_pton(AF_INET6, addr, &pi.ipi6_addr) != 1)
      return throw_type(env, "src must be an IPv6 address or null");
  }
  memcpy(CMSG_DATA(c), &pi, sizeof pi);

  // Hop limit per packet, so tests can send deliberately bad ones.
  int32_t hops = 255;
  napi_get_value_int32(env, argv[4], &hops);
  if (hops < 0 || hops > 255) return throw_type(env, "hopLimit must be 0..255");
  c = CMSG_NXTHDR(&msg, c);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_HOPLIMIT;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int h = hops;
  memcpy(CMSG_DATA(c), &h, sizeof h);

  ssize_t n = sendmsg(s->fd, &msg, 0);
  if (n < 0) return throw_errno(env, "sendmsg", errno);
  napi_value out;
  napi_create_int64(env, (int64_t)n, &out);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  sock_t *s = argc ? unwrap(env, argv[0]) : NULL;
  if (s) do_close(s);
  return NULL;
}

static napi_value js_ifindex(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  char name[IF_NAMESIZE + 1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  unsigned idx = 0;
  if (argc && get_string(env, argv[0], name, sizeof name) == 0)
    idx = if_nametoindex(name);
  napi_create_uint32(env, idx, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"ifindex", NULL, js_ifindex, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
