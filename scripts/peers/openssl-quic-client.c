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
 * per URL, up to 64 of them in flight at once (more wait for stream credit, MAX_STREAMS). Each stream
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
#include <pthread.h>
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
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
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
    pthread_mutex_lock(&lock);
    fprintf(keylog_file, "%s\n", line);
    fflush(keylog_file);
    pthread_mutex_unlock(&lock);
}

static SSL_SESSION *last_session;

/* Tickets arrive after the handshake; keep the newest for -session-out. */
static int new_session(SSL *ssl, SSL_SESSION *session) {
    (void)ssl;
    pthread_mutex_lock(&lock);
    if (last_session) SSL_SESSION_free(last_session);
    last_session = session;
    pthread_mutex_unlock(&lock);
    return 1; /* we keep the reference */
}

static void fail(const char *url, const char *why) {
    pthread_mutex_lock(&lock);
    failures++;
    fprintf(stderr, "openssl-quic-client: %s: %s\n", url, why);
    ERR_print_errors_fp(stderr);
    pthread_mutex_unlock(&lock);
}

static void fetch(const char *text) {
    struct url u;
    char file[8192];
    if (!parse_url(text, &u) || !safe_path(u.path)) { fail(text, "bad URL or path"); return; }
    if (snprintf(file, sizeof file, "%s/%s", opts.download, u.path) >= (int)sizeof file) { fail(text, "path too long"); return; }
    SSL *stream = SSL_new_stream(conn, 0);
    if (!stream) { fail(text, "cannot open a stream"); return; }
    char request[8300];
    int len = snprintf(request, sizeof request, "GET /%s\r\n", u.path);
    size_t put = 0;
    if (len >= (int)sizeof request || !SSL_write_ex(stream, request, (size_t)len, &put) || !SSL_stream_conclude(stream, 0)) {
        fail(text, "cannot send the request");
        SSL_free(stream);
        return;
    }
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { fail(text, strerror(errno)); SSL_free(stream); return; }
    static __thread unsigned char buf[65536];
    size_t got = 0;
    unsigned long long bytes = 0;
    int ok = 1;
    while (SSL_read_ex(stream, buf, sizeof buf, &got)) {
        if (write(fd, buf, got) != (ssize_t)got) { ok = 0; break; }
        bytes += got;
    }
    /* The body is complete only if the server concluded the stream (FIN), not on a reset or close. */
    if (ok && SSL_get_error(stream, 0) != SSL_ERROR_ZERO_RETURN) ok = 0;
    close(fd);
    SSL_free(stream);
    if (!ok) { fail(text, "the response did not end with the stream's FIN"); unlink(file); return; }
    pthread_mutex_lock(&lock);
    total_bytes += bytes;
    pthread_mutex_unlock(&lock);
}

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        int i = next_url < opts.n_urls ? next_url++ : -1;
        pthread_mutex_unlock(&lock);
        if (i < 0) return NULL;
        fetch(opts.urls[i]);
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

    int n_threads = opts.n_urls < MAX_IN_FLIGHT ? opts.n_urls : MAX_IN_FLIGHT;
    pthread_t threads[MAX_IN_FLIGHT];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int started_threads = 0;
    for (int i = 0; i < n_threads; i++) started_threads += pthread_create(&threads[started_threads], &attr, worker, NULL) == 0;
    if (started_threads == 0) return die("cannot start a thread");
    for (int i = 0; i < started_threads; i++) pthread_join(threads[i], NULL);
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
    while (SSL_shutdown_ex(conn, SSL_SHUTDOWN_FLAG_RAPID, NULL, 0) == 0) {}
    SSL_free(conn);
    SSL_CTX_free(ctx);
    return failures == 0 ? 0 : 1;
}
