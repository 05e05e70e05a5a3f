/*
 * pqtls interop peer: an hq-interop (HTTP/0.9 over QUIC) client on OpenSSL 3.5's QUIC client API, the
 * client half of the interop-runner's file transfers beside openssl-quic-server -www.
 *
 *   openssl-quic-client [-alpn LIST] [-ciphersuites LIST] [-groups LIST] [-ca FILE] [-servername NAME]
 *                       [-keylog FILE] [-key-update] [-session-in FILE] [-session-out FILE] [-stats]
 *                       -download DIR URL...
 *
 * Options may be written with one dash or two (--download DIR). Every URL is https://HOST:PORT/PATH with
 * the same HOST:PORT (IPv4 address or name); one connection carries them all, one bidirectional stream
 * per URL, up to 64 of them in flight at once (more wait for stream credit, MAX_STREAMS). One thread
 * drives them all with the connection in non-blocking mode, waiting in poll(2) for the socket or
 * OpenSSL's next timer. An earlier version ran a thread per stream in blocking mode: a thread whose
 * stream had received everything could sleep until an unrelated timer fired (a 64 MiB fetch on 16
 * streams took 15.7 s where it takes 0.5; the server's qlog showed every byte acknowledged after
 * 0.7 s), and the interop runner's multiplexing case (2000 files) failed intermittently with "cannot
 * send the request", against OpenSSL's own server too (4 of 5 runs here). Each stream
 * sends `GET /PATH\r\n`, concludes, and the whole response is written to DIR/PATH (subdirectories are
 * not created; a `..` segment is refused). Exit 0 only when every file
 * arrived complete (the server concluded the stream); 1 otherwise, with a line per failure on stderr.
 *
 * The server certificate is verified against -ca FILE (the name checked is -servername, default the URL's
 * host, also sent as SNI); without -ca nothing is verified, and the output says so. -alpn defaults to
 * hq-interop. -key-update requests a 1-RTT key update (RFC 9001 §6) once the handshake is confirmed,
 * before the requests are sent. -session-out FILE writes the last session ticket received (PEM) when
 * the downloads end; -session-in FILE resumes from one. -stats adds a line
 *   stats: files=N bytes=B seconds=S cpu_ms=MS
 * On success the client prints
 *   connection: group=NAME cipher=NAME alpn=PROTO resumed=yes|no verified=yes|no
 * OpenSSL 3.5's QUIC client has no 0-RTT, speaks QUIC v1 only, and cannot migrate.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/quic.h>
#include <openssl/ssl.h>

#define MAX_IN_FLIGHT 64

struct options {
    const char *alpn, *ciphersuites, *groups, *ca, *servername, *keylog_path, *session_in, *session_out,
        *download;
    int key_update, stats;
    char **urls;
    int n_urls;
};

static struct options opts;
static FILE *keylog_file;
static int next_url, failures;
static unsigned long long total_bytes;
static SSL *conn;

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s [-alpn LIST] [-ciphersuites LIST] [-groups LIST] [-ca FILE] [-servername NAME] "
                    "[-keylog FILE] [-key-update] [-session-in FILE] [-session-out FILE] [-stats] "
                    "-download DIR URL...\n", argv0);
    return 64;
}

static int die(const char *why) {
    fprintf(stderr, "openssl-quic-client: %s\n", why);
    ERR_print_errors_fp(stderr);
    return 1;
}

static int parse_args(int argc, char **argv, struct options *o) {
    int i = 1;
    memset(o, 0, sizeof *o);
    o->alpn = "hq-interop";
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *flag = argv[i] + (argv[i][1] == '-');
        if (!strcmp(flag, "-key-update")) { o->key_update = 1; continue; }
        if (!strcmp(flag, "-stats")) { o->stats = 1; continue; }
        if (i + 1 >= argc) return 0;
        const char *value = argv[++i];
        if (!strcmp(flag, "-alpn")) o->alpn = value;
        else if (!strcmp(flag, "-ciphersuites")) o->ciphersuites = value;
        else if (!strcmp(flag, "-groups")) o->groups = value;
        else if (!strcmp(flag, "-ca")) o->ca = value;
        else if (!strcmp(flag, "-servername")) o->servername = value;
        else if (!strcmp(flag, "-keylog")) o->keylog_path = value;
        else if (!strcmp(flag, "-session-in")) o->session_in = value;
        else if (!strcmp(flag, "-session-out")) o->session_out = value;
        else if (!strcmp(flag, "-download")) o->download = value;
        else return 0;
    }
    o->urls = argv + i;
    o->n_urls = argc - i;
    return o->download != NULL && o->n_urls > 0;
}

struct url {
    char host[256], port[16];
    const char *path; /* after the authority's '/', within the argument */
};

/* https://host:port/path -> parts; 0 when it is not of that form. */
static int parse_url(const char *text, struct url *u) {
    const char *p = strstr(text, "://");
    p = p ? p + 3 : text;
    const char *slash = strchr(p, '/');
    if (!slash) return 0;
    const char *colon = memchr(p, ':', (size_t)(slash - p));
    const char *host_end = colon ? colon : slash;
    size_t host_len = (size_t)(host_end - p);
    if (host_len == 0 || host_len >= sizeof u->host) return 0;
    if (*p == '[') return 0; /* IPv6 literals are not needed on loopback tests */
    memcpy(u->host, p, host_len);
    u->host[host_len] = '\0';
    if (colon) {
        size_t n = (size_t)(slash - colon - 1);
        if (n == 0 || n >= sizeof u->port) return 0;
        memcpy(u->port, colon + 1, n);
        u->port[n] = '\0';
    } else {
        strcpy(u->port, "443");
    }
    u->path = slash + 1;
    return 1;
}

static int safe_path(const char *path) {
    if (!*path) return 0;
    for (const char *seg = path; *seg;) {
        size_t n = strcspn(seg, "/");
        if (n == 2 && seg[0] == '.' && seg[1] == '.') return 0;
        seg += n + (seg[n] == '/');
    }
    return 1;
}

static void write_keylog(const SSL *ssl, const char *line) {
    (void)ssl;
    fprintf(keylog_file, "%s\n", line);
    fflush(keylog_file);
}

static SSL_SESSION *last_session;

/* Tickets arrive after the handshake; keep the newest for -session-out. */
static int new_session(SSL *ssl, SSL_SESSION *session) {
    (void)ssl;
    if (last_session) SSL_SESSION_free(last_session);
    last_session = session;
    return 1; /* we keep the reference */
}

static void fail(const char *url, const char *why) {
    failures++;
    fprintf(stderr, "openssl-quic-client: %s: %s\n", url, why);
    ERR_print_errors_fp(stderr);
}

/* One URL's transfer: its stream, the request still to send, the file its response goes to. */
struct xfer {
    const char *url;
    SSL *stream;
    int fd;
    char file[8192], request[8300];
    size_t request_len, request_sent;
    int concluded;
    unsigned long long bytes;
};

static void finish(struct xfer *x, const char *why) {
    if (x->fd >= 0) close(x->fd);
    if (x->stream) SSL_free(x->stream);
    if (why) {
        fail(x->url, why);
        unlink(x->file);
    } else {
        total_bytes += x->bytes;
    }
    x->stream = NULL;
    x->fd = -1;
}

/* Opens the stream for `text`: 1 when it is open, 0 when it failed (reported), -1 when stream credit
 * (MAX_STREAMS) is exhausted for now. */
static int start(struct xfer *x, const char *text) {
    struct url u;
    memset(x, 0, sizeof *x);
    x->url = text;
    x->fd = -1;
    if (!parse_url(text, &u) || !safe_path(u.path)) { fail(text, "bad URL or path"); return 0; }
    if (snprintf(x->file, sizeof x->file, "%s/%s", opts.download, u.path) >= (int)sizeof x->file) { fail(text, "path too long"); return 0; }
    int len = snprintf(x->request, sizeof x->request, "GET /%s\r\n", u.path);
    if (len >= (int)sizeof x->request) { fail(text, "path too long"); return 0; }
    x->request_len = (size_t)len;
    x->stream = SSL_new_stream(conn, SSL_STREAM_FLAG_NO_BLOCK);
    if (!x->stream) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_STREAM_COUNT_LIMITED) { ERR_clear_error(); return -1; }
        fail(text, "cannot open a stream");
        return 0;
    }
    x->fd = open(x->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (x->fd < 0) { fail(text, strerror(errno)); SSL_free(x->stream); x->stream = NULL; return 0; }
    return 1;
}

/* Moves one transfer on as far as it can without waiting: 1 if it did anything. Done or failed, its
 * stream is freed. */
static int step(struct xfer *x) {
    static unsigned char buf[65536];
    int moved = 0;
    while (!x->concluded) {
        if (x->request_sent < x->request_len) {
            size_t put = 0;
            if (!SSL_write_ex(x->stream, x->request + x->request_sent, x->request_len - x->request_sent, &put)) {
                int e = SSL_get_error(x->stream, 0);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) { ERR_clear_error(); return moved; }
                finish(x, "cannot send the request");
                return 1;
            }
            x->request_sent += put;
            moved = 1;
            continue;
        }
        if (!SSL_stream_conclude(x->stream, 0)) { finish(x, "cannot send the request"); return 1; }
        x->concluded = 1;
        moved = 1;
    }
    for (;;) {
        size_t got = 0;
        if (SSL_read_ex(x->stream, buf, sizeof buf, &got)) {
            if (write(x->fd, buf, got) != (ssize_t)got) { finish(x, strerror(errno)); return 1; }
            x->bytes += got;
            moved = 1;
            continue;
        }
        int e = SSL_get_error(x->stream, 0);
        if (e == SSL_ERROR_WANT_READ) { ERR_clear_error(); return moved; }
        /* The body is complete only if the server concluded the stream (FIN), not on a reset or close. */
        finish(x, e == SSL_ERROR_ZERO_RETURN ? NULL : "the response did not end with the stream's FIN");
        ERR_clear_error();
        return 1;
    }
}

/* Until every URL is fetched or failed: up to MAX_IN_FLIGHT streams at once, in one thread. */
static void fetch_all(int fd) {
    static struct xfer xfers[MAX_IN_FLIGHT];
    int active = 0;
    while (next_url < opts.n_urls || active > 0) {
        int moved = 0;
        for (int i = 0; i < MAX_IN_FLIGHT && next_url < opts.n_urls; i++) {
            if (xfers[i].stream) continue;
            int r = start(&xfers[i], opts.urls[next_url]);
            if (r < 0) break;
            next_url++;
            moved = 1;
            active += r;
        }
        for (int i = 0; i < MAX_IN_FLIGHT; i++) {
            if (!xfers[i].stream) continue;
            moved |= step(&xfers[i]);
            if (!xfers[i].stream) active--;
        }
        if (moved) continue;
        /* Nothing to do until a datagram arrives, the socket can take more, or OpenSSL's next timer. */
        struct timeval tv;
        int infinite = 0;
        int timeout_ms = 1000;
        if (SSL_get_event_timeout(conn, &tv, &infinite) && !infinite) timeout_ms = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
        struct pollfd p = { .fd = fd, .events = (short)((SSL_net_read_desired(conn) ? POLLIN : 0) | (SSL_net_write_desired(conn) ? POLLOUT : 0)) };
        if (timeout_ms > 0) poll(&p, 1, timeout_ms);
        SSL_handle_events(conn);
        ERR_clear_error();
    }
}

static int encode_alpn(const char *list, unsigned char *out, size_t cap) {
    size_t len = 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > 255 || len + 1 + n > cap) return -1;
        out[len++] = (unsigned char)n;
        memcpy(out + len, p, n);
        len += n;
        p += n + (p[n] == ',');
    }
    return (int)len;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (!parse_args(argc, argv, &opts)) return usage(argv[0]);
    double started = now_s();
    struct url first;
    if (!parse_url(opts.urls[0], &first)) return die("the first URL is not https://HOST:PORT/PATH");
    for (int i = 1; i < opts.n_urls; i++) {
        struct url u;
        if (!parse_url(opts.urls[i], &u) || strcmp(u.host, first.host) || strcmp(u.port, first.port))
            return die("all URLs must name the same HOST:PORT (one connection carries them)");
    }
    struct stat st;
    if (stat(opts.download, &st) != 0 || !S_ISDIR(st.st_mode)) return die("-download needs a directory");
    if (opts.keylog_path && !(keylog_file = fopen(opts.keylog_path, "a"))) return die("cannot open the key log");

    SSL_CTX *ctx = SSL_CTX_new(OSSL_QUIC_client_method());
    if (!ctx) return die("SSL_CTX_new failed");
    if ((opts.groups && !SSL_CTX_set1_groups_list(ctx, opts.groups))
        || (opts.ciphersuites && !SSL_CTX_set_ciphersuites(ctx, opts.ciphersuites)))
        return die("cannot set the groups or ciphersuites");
    if (opts.ca) {
        if (!SSL_CTX_load_verify_locations(ctx, opts.ca, NULL)) return die("cannot load the CA file");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (keylog_file) SSL_CTX_set_keylog_callback(ctx, write_keylog);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);

    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *ai = NULL;
    if (getaddrinfo(first.host, first.port, &hints, &ai) != 0 || !ai) return die("cannot resolve the host");
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) return die("cannot open the UDP socket");
    BIO_ADDR *peer = BIO_ADDR_new();
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
    if (!peer || !BIO_ADDR_rawmake(peer, AF_INET, &sin->sin_addr, sizeof sin->sin_addr, sin->sin_port))
        return die("cannot make the peer address");
    freeaddrinfo(ai);

    conn = SSL_new(ctx);
    unsigned char alpn[256];
    int alpn_len = encode_alpn(opts.alpn, alpn, sizeof alpn);
    const char *name = opts.servername ? opts.servername : first.host;
    if (!conn || alpn_len <= 0 || SSL_set_alpn_protos(conn, alpn, (unsigned int)alpn_len) != 0
        || !SSL_set_fd(conn, fd) || !SSL_set1_initial_peer_addr(conn, peer)
        || !SSL_set_tlsext_host_name(conn, name) || (opts.ca && !SSL_set1_host(conn, name))
        || !SSL_set_default_stream_mode(conn, SSL_DEFAULT_STREAM_MODE_NONE)
        || !SSL_set_incoming_stream_policy(conn, SSL_INCOMING_STREAM_POLICY_REJECT, 0))
        return die("cannot set up the connection");
    BIO_ADDR_free(peer);
    if (opts.session_in) {
        BIO *in = BIO_new_file(opts.session_in, "r");
        SSL_SESSION *s = in ? PEM_read_bio_SSL_SESSION(in, NULL, NULL, NULL) : NULL;
        BIO_free(in);
        if (!s || !SSL_set_session(conn, s)) return die("cannot read the session to resume");
        SSL_SESSION_free(s);
    }
    if (SSL_connect(conn) != 1) return die("the handshake failed");
    if (opts.key_update) {
        /* OpenSSL allows it only once the handshake is confirmed (HANDSHAKE_DONE); wait for that. */
        int done = 0;
        for (int i = 0; i < 400 && !(done = SSL_key_update(conn, SSL_KEY_UPDATE_REQUESTED)); i++) {
            ERR_clear_error();
            SSL_handle_events(conn);
            usleep(5000);
        }
        if (!done) return die("the key update was refused");
    }

    if (!SSL_set_blocking_mode(conn, 0)) return die("cannot make the connection non-blocking");
    fetch_all(fd);
    double seconds = now_s() - started;

    const unsigned char *sel = NULL;
    unsigned int sel_len = 0;
    SSL_get0_alpn_selected(conn, &sel, &sel_len);
    int group = SSL_get_negotiated_group(conn);
    printf("connection: group=%s cipher=%s alpn=%.*s resumed=%s verified=%s\n",
           group ? SSL_group_to_name(conn, group) : "?", SSL_get_cipher_name(conn), (int)sel_len,
           sel ? (const char *)sel : "", SSL_session_reused(conn) ? "yes" : "no",
           opts.ca && SSL_get_verify_result(conn) == X509_V_OK ? "yes" : "no");
    if (opts.stats) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        long ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
        printf("stats: files=%d bytes=%llu seconds=%.3f cpu_ms=%ld\n", opts.n_urls - failures, total_bytes, seconds, ms);
    }
    fflush(stdout);
    if (opts.session_out) {
        for (int i = 0; i < 100 && !last_session; i++) { SSL_handle_events(conn); usleep(10000); }
        BIO *out = BIO_new_file(opts.session_out, "w");
        if (!last_session || !out || !PEM_write_bio_SSL_SESSION(out, last_session)) {
            BIO_free(out);
            return die("no session ticket to write");
        }
        BIO_free(out);
    }
    /* Rapid: CONNECTION_CLOSE goes out, but the closing period (3 PTO, RFC 9000 §10.2) is not waited out. */
    SSL_set_blocking_mode(conn, 1);
    while (SSL_shutdown_ex(conn, SSL_SHUTDOWN_FLAG_RAPID, NULL, 0) == 0) {}
    SSL_free(conn);
    SSL_CTX_free(ctx);
    return failures == 0 ? 0 : 1;
}
