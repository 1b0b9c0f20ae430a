// An independent closed-loop ECHO client for switchboard's wire protocol (docs/PROTOCOL.md), used
// to check the benchmark's own load generator (bench/loadgen/) against something that shares none
// of its code: no Node, no event loop, no HDR histogram. One thread, epoll, non-blocking sockets.
//
// Each of N connections sends one ECHO frame of P payload bytes, waits for the whole answer,
// checks every byte against what it sent, and sends the next. The payload differs per connection
// and per request, so an answer delivered to the wrong connection, or a stale one, is a mismatch.
//
// Counting (the same rules as the load generator, so the figures are comparable):
//   - a request counts when its send falls inside the measured window (after warm-up) and its
//     answer is correct; latency = answer time − send time (CLOCK_MONOTONIC), kept per request
//     and sorted at the end, so percentiles are exact rather than bucketed;
//   - after the window no new request is sent; answers to in-window requests are awaited for a
//     grace period (default as the load generator's: duration/4, clamped to 0.5–2 s);
//   - coordinated omission: a connection still waiting at window end for a request it sent
//     before the window adds that request's age as a latency sample, and an in-window request
//     still unanswered after the grace adds its age (and counts as an error) — in a closed loop a
//     starved connection sends nothing, so without this it would simply vanish from the figures;
//   - per connection, the correct answers that arrived inside the window; "activeConnections" is
//     how many connections got at least one;
//   - p50CoUs … p999CoUs: the same samples with the load generator's coordinated-omission
//     correction applied (see co_pct_us), to compare with its corrected figures.
// Mismatches and errors count over the whole run, warm-up included: a wrong byte is wrong whenever
// it comes. A connection the server closes (or whose answer has the wrong length) is dropped.
//
// Output: one JSON line on stdout. Exit 0 once it ran (whatever it measured), 1 on connect or
// system failure, 2 on bad usage.
//
//   cc -O2 -Wall -Wextra -std=gnu11 -o echo-client echo-client.c
//   ./echo-client --port 7070 --connections 32 --payload 64 --warmup 1 --duration 3
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define OP_ECHO 0x01
#define HEADER 5 /* u32 length + op */

struct conn {
  int fd;
  int dead;
  uint32_t index;
  uint64_t seq;        /* requests sent on this connection */
  int outstanding;     /* a request is sent (or being sent) and not yet fully answered */
  int want_out;        /* EPOLLOUT registered (a partial send is pending) */
  int64_t sent_at;     /* ns: when the request's first byte was handed to the kernel */
  size_t sent;         /* bytes of the request written so far */
  size_t got;          /* bytes of the answer read so far */
  uint64_t in_window;  /* correct answers that arrived inside the window */
  unsigned char *req;  /* the frame sent */
  unsigned char *resp; /* the answer being read */
};

static struct {
  const char *host;
  const char *port;
  long connections;
  long payload;
  double warmup_s, duration_s, grace_s;
  const char *samples_file;
  int busy_poll;
} opt = {"127.0.0.1", NULL, 1, 64, 1.0, 3.0, -1.0, NULL, 0};

static int64_t *samples; /* ns */
static size_t n_samples, cap_samples;
static uint64_t requests, errors, mismatches, unanswered, age_samples;
static int64_t measure_from, measure_to;
static size_t frame_len;
static int epfd;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "echo-client: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void add_sample(int64_t ns) {
  if (n_samples == cap_samples) {
    cap_samples = cap_samples ? cap_samples * 2 : 1 << 16;
    samples = realloc(samples, cap_samples * sizeof *samples);
    if (!samples) die("realloc");
  }
  samples[n_samples++] = ns;
}

/* splitmix64: cheap, and every (connection, request) pair gets its own byte stream. */
static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void fill_request(struct conn *c) {
  uint32_t len = (uint32_t)opt.payload + 1;
  c->req[0] = (unsigned char)(len >> 24);
  c->req[1] = (unsigned char)(len >> 16);
  c->req[2] = (unsigned char)(len >> 8);
  c->req[3] = (unsigned char)len;
  c->req[4] = OP_ECHO;
  uint64_t state = ((uint64_t)c->index << 40) ^ c->seq ^ 0x5eed5eed5eedULL;
  for (long i = 0; i < opt.payload; i += 8) {
    uint64_t r = mix(&state);
    for (long j = 0; j < 8 && i + j < opt.payload; j++) c->req[HEADER + i + j] = (unsigned char)(r >> (8 * j));
  }
}

static void set_out(struct conn *c, int on) {
  if (c->want_out == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
  c->want_out = on;
}

/* Gives a connection up; `error`: count it as an error (not when it is already a mismatch). */
static void drop(struct conn *c, int error) {
  if (c->dead) return;
  c->dead = 1;
  if (error) errors++;
  if (c->outstanding && c->sent_at >= measure_from && c->sent_at < measure_to) unanswered++;
  c->outstanding = 0;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
}

static void pump_send(struct conn *c) {
  while (c->sent < frame_len) {
    ssize_t n = send(c->fd, c->req + c->sent, frame_len - c->sent, MSG_NOSIGNAL);
    if (n > 0) {
      c->sent += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_out(c, 1);
      return;
    } else {
      drop(c, 1);
      return;
    }
  }
  set_out(c, 0);
}

static void send_next(struct conn *c) {
  fill_request(c);
  c->seq++;
  c->sent = 0;
  c->got = 0;
  c->outstanding = 1;
  c->sent_at = now_ns();
  pump_send(c);
}

static void on_answer(struct conn *c, int64_t t, int stop_sending) {
  c->outstanding = 0;
  if (memcmp(c->resp, c->req, frame_len) != 0) {
    mismatches++;
  } else {
    if (c->sent_at >= measure_from && c->sent_at < measure_to) {
      requests++;
      add_sample(t - c->sent_at);
    }
    if (t >= measure_from && t < measure_to) c->in_window++;
  }
  if (!stop_sending && t < measure_to) send_next(c);
}

static void pump_recv(struct conn *c, int stop_sending) {
  for (;;) {
    if (!c->outstanding) {
      /* Bytes nobody asked for: read them to see, and count them as a mismatch. */
      unsigned char junk[256];
      ssize_t n = recv(c->fd, junk, sizeof junk, 0);
      if (n > 0) {
        mismatches++;
        drop(c, 0);
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop(c, 1);
      }
      return;
    }
    ssize_t n = recv(c->fd, c->resp + c->got, frame_len - c->got, 0);
    if (n > 0) {
      size_t before = c->got;
      c->got += (size_t)n;
      if (before < 4 && c->got >= 4 && memcmp(c->resp, c->req, 4) != 0) {
        /* Wrong length: the stream cannot be re-framed, so the connection is given up. */
        mismatches++;
        c->outstanding = 0;
        drop(c, 0);
        return;
      }
      if (c->got == frame_len) {
        on_answer(c, now_ns(), stop_sending);
        /* The next request has just been sent; its answer cannot be here yet. Reading again
           would cost one recv() returning EAGAIN per request (the epoll is level-triggered, so
           anything that does arrive brings us back). */
        return;
      }
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      drop(c, 1); /* closed by the server, or reset */
      return;
    }
  }
}

static int connect_one(const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) die("socket");
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) die("setsockopt TCP_NODELAY");
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    if (errno != EINPROGRESS) {
      close(fd);
      return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r;
    do r = poll(&p, 1, 10000);
    while (r < 0 && errno == EINTR);
    int err = 0;
    socklen_t len = sizeof err;
    if (r == 0) err = ETIMEDOUT;
    else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) {
      close(fd);
      errno = err;
      return -1;
    }
  }
  return fd;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least q of all samples at or below it. */
static double pct_us(double q) {
  if (!n_samples) return 0;
  size_t rank = (size_t)(q * (double)n_samples + 0.999999999);
  if (rank < 1) rank = 1;
  if (rank > n_samples) rank = n_samples;
  return (double)samples[rank - 1] / 1000.0;
}

/*
 * The load generator also reports closed-loop latency corrected for coordinated omission the way
 * HdrHistogram's copyCorrectedForCoordinatedOmission does, at an expected interval of the raw
 * median: each sample v adds the samples v − i, v − 2i, … that are still ≥ i. The same correction
 * on these exact samples gives a figure to compare with that one. Percentiles of the corrected
 * set are found by bisection on the value, without building it (a 5 s stall at a 30 µs interval
 * would add 166,000 samples).
 */
static int64_t co_interval;

/* Corrected samples ≤ x (samples sorted). */
static uint64_t co_count_le(int64_t x) {
  uint64_t n = 0;
  for (size_t j = 0; j < n_samples; j++) {
    int64_t v = samples[j];
    if (v <= x) n++;
    int64_t k_max = co_interval > 0 ? v / co_interval - 1 : 0; /* missing values v − k·i, k = 1..k_max */
    if (k_max < 1) continue;
    int64_t k_min = v <= x ? 1 : (v - x + co_interval - 1) / co_interval;
    if (k_min < 1) k_min = 1;
    if (k_min <= k_max) n += (uint64_t)(k_max - k_min + 1);
  }
  return n;
}

static double co_pct_us(double q) {
  if (!n_samples || co_interval <= 0) return pct_us(q);
  uint64_t total = co_count_le(samples[n_samples - 1]);
  uint64_t rank = (uint64_t)(q * (double)total + 0.999999999);
  if (rank < 1) rank = 1;
  int64_t lo = 0, hi = samples[n_samples - 1];
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (co_count_le(mid) >= rank) hi = mid;
    else lo = mid + 1;
  }
  return (double)lo / 1000.0;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static void usage(FILE *f) {
  fprintf(f,
          "usage: echo-client --port PORT [options]\n"
          "  Closed-loop ECHO load over N connections (switchboard wire protocol); prints one JSON line.\n"
          "  -H, --host HOST         server address (default 127.0.0.1)\n"
          "  -p, --port PORT         server port (required)\n"
          "  -c, --connections N     concurrent connections, one request in flight each (default 1)\n"
          "  -b, --payload BYTES     ECHO payload bytes per request (default 64)\n"
          "  -w, --warmup SECONDS    load before the measured window, not counted (default 1)\n"
          "  -d, --duration SECONDS  measured window (default 3)\n"
          "  -g, --grace SECONDS     wait after the window for answers to in-window requests\n"
          "                          (default duration/4 clamped to 0.5-2, as the load generator)\n"
          "  -s, --samples FILE      also write every latency sample (ns, sorted, one a line)\n"
          "  -B, --busy-poll         never sleep in epoll_wait (timeout 0) while the run is on, as the\n"
          "                          load generator does on a CPU of its own; the client then uses its\n"
          "                          whole core, and cpuUserS/cpuSysS say so\n"
          "  -h, --help              this text\n"
          "Output: {connections, payloadBytes, windowS, requests, throughput, p50Us, p90Us, p99Us,\n"
          "  p999Us, maxUs, errors, mismatches, activeConnections, cpuUserS, cpuSysS, unanswered,\n"
          "  ageSamples, graceS, coIntervalUs, p50CoUs, p90CoUs, p99CoUs, p999CoUs}\n");
}

static double num_arg(const char *name, const char *s, double min, double max) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || v < min || v > max) {
    fprintf(stderr, "echo-client: --%s: expected a number in [%g, %g], got \"%s\"\n", name, min, max, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  static const struct option longs[] = {
      {"host", required_argument, 0, 'H'},     {"port", required_argument, 0, 'p'},
      {"connections", required_argument, 0, 'c'}, {"payload", required_argument, 0, 'b'},
      {"warmup", required_argument, 0, 'w'},   {"duration", required_argument, 0, 'd'},
      {"grace", required_argument, 0, 'g'},    {"samples", required_argument, 0, 's'},
      {"busy-poll", no_argument, 0, 'B'},      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "H:p:c:b:w:d:g:s:Bh", longs, NULL)) != -1) {
    switch (ch) {
    case 'H': opt.host = optarg; break;
    case 'p': opt.port = optarg; num_arg("port", optarg, 1, 65535); break;
    case 'c': opt.connections = (long)num_arg("connections", optarg, 1, 100000); break;
    case 'b': opt.payload = (long)num_arg("payload", optarg, 0, 16 * 1024 * 1024); break;
    case 'w': opt.warmup_s = num_arg("warmup", optarg, 0, 3600); break;
    case 'd': opt.duration_s = num_arg("duration", optarg, 0.001, 3600); break;
    case 'g': opt.grace_s = num_arg("grace", optarg, 0, 3600); break;
    case 's': opt.samples_file = optarg; break;
    case 'B': opt.busy_poll = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc || !opt.port) {
    usage(stderr);
    return 2;
  }
  if (opt.grace_s < 0) {
    opt.grace_s = opt.duration_s / 4;
    if (opt.grace_s < 0.5) opt.grace_s = 0.5;
    if (opt.grace_s > 2) opt.grace_s = 2;
  }
  frame_len = HEADER + (size_t)opt.payload;

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  int gai = getaddrinfo(opt.host, opt.port, &hints, &ai);
  if (gai) {
    fprintf(stderr, "echo-client: cannot resolve %s: %s\n", opt.host, gai_strerror(gai));
    return 1;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  struct conn *conns = calloc((size_t)opt.connections, sizeof *conns);
  if (!conns) die("calloc");
  for (long i = 0; i < opt.connections; i++) {
    struct conn *c = &conns[i];
    c->index = (uint32_t)i;
    c->req = malloc(frame_len);
    c->resp = malloc(frame_len);
    if (!c->req || !c->resp) die("malloc");
    c->fd = connect_one(ai);
    if (c->fd < 0) {
      fprintf(stderr, "echo-client: connect to %s:%s failed (connection %ld of %ld): %s\n", opt.host, opt.port, i + 1, opt.connections, strerror(errno));
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  }
  freeaddrinfo(ai);

  // Every connection is open before the clock starts, as in the load generator.
  int64_t start = now_ns();
  measure_from = start + (int64_t)(opt.warmup_s * 1e9);
  measure_to = measure_from + (int64_t)(opt.duration_s * 1e9);
  int64_t grace_end = measure_to + (int64_t)(opt.grace_s * 1e9);
  for (long i = 0; i < opt.connections; i++) send_next(&conns[i]);

  struct rusage ru0 = {0}, ru1 = {0};
  int measuring = 0, ended = 0;
  struct epoll_event events[256];
  for (;;) {
    int64_t t = now_ns();
    if (!measuring && t >= measure_from) {
      getrusage(RUSAGE_SELF, &ru0);
      measuring = 1;
    }
    if (measuring && !ended && t >= measure_to) {
      getrusage(RUSAGE_SELF, &ru1);
      ended = 1;
      // Starved through the whole window: the wait so far is the least its latency can be.
      for (long i = 0; i < opt.connections; i++) {
        struct conn *c = &conns[i];
        if (!c->dead && c->outstanding && c->sent_at < measure_from) {
          add_sample(measure_to - c->sent_at);
          age_samples++;
        }
      }
    }
    if (ended) {
      int waiting = 0;
      for (long i = 0; i < opt.connections && !waiting; i++)
        waiting = !conns[i].dead && conns[i].outstanding && conns[i].sent_at >= measure_from;
      if (!waiting || t >= grace_end) break;
    }
    int64_t next = !measuring ? measure_from : !ended ? measure_to : grace_end;
    int timeout = next > t ? (int)((next - t + 999999) / 1000000) : 0;
    int n = epoll_wait(epfd, events, 256, opt.busy_poll ? 0 : timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int k = 0; k < n; k++) {
      struct conn *c = events[k].data.ptr;
      if (c->dead) continue;
      if (events[k].events & EPOLLOUT) pump_send(c);
      if (!c->dead && events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) pump_recv(c, ended);
    }
  }
  int64_t end = now_ns();
  long active = 0;
  for (long i = 0; i < opt.connections; i++) {
    struct conn *c = &conns[i];
    if (c->in_window) active++;
    if (!c->dead && c->outstanding && c->sent_at >= measure_from && c->sent_at < measure_to) {
      add_sample(end - c->sent_at);
      age_samples++;
      unanswered++;
      errors++;
    }
    if (!c->dead) close(c->fd);
  }
  qsort(samples, n_samples, sizeof *samples, cmp_i64);
  co_interval = n_samples ? (int64_t)(pct_us(0.50) * 1000.0) : 0;
  if (opt.samples_file) {
    FILE *f = fopen(opt.samples_file, "w");
    if (!f) die(opt.samples_file);
    for (size_t j = 0; j < n_samples; j++) fprintf(f, "%lld\n", (long long)samples[j]);
    if (fclose(f) != 0) die(opt.samples_file);
  }
  double window_s = opt.duration_s;
  printf("{\"connections\":%ld,\"payloadBytes\":%ld,\"windowS\":%.3f,\"requests\":%llu,\"throughput\":%.1f,"
         "\"p50Us\":%.1f,\"p90Us\":%.1f,\"p99Us\":%.1f,\"p999Us\":%.1f,\"maxUs\":%.1f,"
         "\"errors\":%llu,\"mismatches\":%llu,\"activeConnections\":%ld,\"cpuUserS\":%.3f,\"cpuSysS\":%.3f,"
         "\"unanswered\":%llu,\"ageSamples\":%llu,\"graceS\":%.3f,"
         "\"coIntervalUs\":%.1f,\"p50CoUs\":%.1f,\"p90CoUs\":%.1f,\"p99CoUs\":%.1f,\"p999CoUs\":%.1f}\n",
         opt.connections, opt.payload, window_s, (unsigned long long)requests, (double)requests / window_s,
         pct_us(0.50), pct_us(0.90), pct_us(0.99), pct_us(0.999), n_samples ? (double)samples[n_samples - 1] / 1000.0 : 0.0,
         (unsigned long long)errors, (unsigned long long)mismatches, active,
         tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime), tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime),
         (unsigned long long)unanswered, (unsigned long long)age_samples, opt.grace_s,
         (double)co_interval / 1000.0, co_pct_us(0.50), co_pct_us(0.90), co_pct_us(0.99), co_pct_us(0.999));
  return 0;
}
