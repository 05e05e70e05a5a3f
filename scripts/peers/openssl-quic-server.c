/*
 * pqtls interop peer: a QUIC v1 server on the server API that OpenSSL gained in 3.5
 * (SSL_new_listener / SSL_accept_connection / SSL_accept_stream). It exists because `openssl s_server`
 * has no QUIC mode, and it is the only QUIC server on hand that negotiates X25519MLKEM768 with an
 * ML-DSA certificate.
 *
 *   openssl-quic-server [-groups LIST] [-ciphersuites LIST] [-alpn P1,P2] [-keylog FILE] [-n CONNS]
 *                       [-www DIR] [-key-update] [-no-retry] [-host ADDR] PORT CERT KEY
 *
 * Options may be written with one dash or two (--www DIR). Binds ADDR:PORT (IPv4, default 127.0.0.1).
 *
 * Echo mode (no -www): serves connections one after another (all of them, or CONNS): echoes the
 * client's first bidirectional stream until the client concludes it, concludes its side, and prints
 *   connection: group=NAME cipher=NAME alpn=PROTO echoed=BYTES
 *
 * hq-interop mode (-www DIR): serves connections concurrently, a thread per connection and per stream.
 * Every bidirectional stream carries one HTTP/0.9 request `GET /path\r\n` (the CRLF or the stream's FIN
 * ends it); the file DIR/path is sent and the stream concluded. A path with a `..` segment, a missing
 * file or anything but GET gets the stream reset (no body). Per connection, when it ends:
 *   connection: group=NAME cipher=NAME alpn=PROTO resumed=yes|no streams=N served=BYTES cpu_ms=MS
 * (cpu_ms: the whole process's user+system CPU so far, for benchmarks). With -n CONNS the server exits
 * after that many connections have ended.
 *
 * With no -alpn the client's first offered protocol is taken, so any test ALPN works. -key-update makes
 * the server request a 1-RTT key update (RFC 9001 §6) on each connection once the handshake is
 * confirmed. -no-retry turns off the listener's address validation (OpenSSL 3.5 validates new client
 * addresses with Retry packets unless told not to). OpenSSL 3.5's QUIC has no 0-RTT, QUIC v1 only,
 * and no connection migration (a client's new address is not followed).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/quic.h>
#include <openssl/ssl.h>

struct options {
    const char *groups, *ciphersuites, *keylog_path, *port, *cert, *key, *www, *host;
    unsigned char alpn[256]; /* wire format: length-prefixed protocol names */
    unsigned int alpn_len;
    long connections; /* < 0: serve forever */
    int key_update, no_retry;
};

static struct options opts;
static FILE *keylog_file;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cond = PTHREAD_COND_INITIALIZER;
static long live_connections;

static int die(const char *why) {
    fprintf(stderr, "openssl-quic-server: %s\n", why);
    ERR_print_errors_fp(stderr);
    return 1;
}

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s [-groups LIST] [-ciphersuites LIST] [-alpn P1,P2] [-keylog FILE] [-n CONNS] "
                    "[-www DIR] [-key-update] [-no-retry] [-host ADDR] PORT CERT KEY\n", argv0);
    return 64;
}

/* "h3,test" -> "\x02h3\x04test"; 0 if a name is empty or the list does not fit. */
static int encode_alpn(struct options *o, const char *list) {
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > 255 || o->alpn_len + 1 + n > sizeof o->alpn) return 0;
        o->alpn[o->alpn_len++] = (unsigned char)n;
        memcpy(o->alpn + o->alpn_len, p, n);
        o->alpn_len += (unsigned int)n;
        p += n + (p[n] == ',');
    }
    return o->alpn_len > 0;
}

static int parse_args(int argc, char **argv, struct options *o) {
    int i = 1;
    memset(o, 0, sizeof *o);
    o->connections = -1;
    o->host = "127.0.0.1";
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *flag = argv[i] + (argv[i][1] == '-'); /* --www and -www alike */
        if (!strcmp(flag, "-key-update")) { o->key_update = 1; continue; }
        if (!strcmp(flag, "-no-retry")) { o->no_retry = 1; continue; }
        if (i + 1 >= argc) return 0;
        const char *value = argv[++i];
        if (!strcmp(flag, "-groups")) o->groups = value;
        else if (!strcmp(flag, "-ciphersuites")) o->ciphersuites = value;
        else if (!strcmp(flag, "-keylog")) o->keylog_path = value;
        else if (!strcmp(flag, "-www")) o->www = value;
        else if (!strcmp(flag, "-host")) o->host = value;
        else if (!strcmp(flag, "-n")) o->connections = strtol(value, NULL, 10);
        else if (!strcmp(flag, "-alpn")) { if (!encode_alpn(o, value)) return 0; }
        else return 0;
    }
    if (argc - i != 3) return 0;
    o->port = argv[i]; o->cert = argv[i + 1]; o->key = argv[i + 2];
    return 1;
}

static int choose_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *offered, unsigned int offered_len, void *arg) {
    const struct options *o = arg;
    (void)ssl;
    if (o->alpn_len == 0) { /* accept whatever the client lists first */
        if (offered_len == 0 || offered[0] == 0 || offered[0] >= offered_len) return SSL_TLSEXT_ERR_ALERT_FATAL;
        *out = offered + 1; *outlen = offered[0];
        return SSL_TLSEXT_ERR_OK;
    }
    if (SSL_select_next_proto((unsigned char **)out, outlen, o->alpn, o->alpn_len, offered, offered_len)
        != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 9001 §8.1: no_application_protocol */
    return SSL_TLSEXT_ERR_OK;
}

static void write_keylog(const SSL *ssl, const char *line) {
    (void)ssl;
    pthread_mutex_lock(&out_lock);
    fprintf(keylog_file, "%s\n", line);
    fflush(keylog_file);
    pthread_mutex_unlock(&out_lock);
}

static SSL_CTX *make_context(struct options *o) {
    SSL_CTX *ctx = SSL_CTX_new(OSSL_QUIC_server_method());
    if (!ctx) return NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) <= 0
        || SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) <= 0
        || !SSL_CTX_check_private_key(ctx)
        || (o->groups && !SSL_CTX_set1_groups_list(ctx, o->groups))
        || (o->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites))
        /* Connections and streams are served from threads of their own (hq-interop mode). */
        || (o->www && !SSL_CTX_set_domain_flags(ctx, SSL_DOMAIN_FLAG_MULTI_THREAD | SSL_DOMAIN_FLAG_BLOCKING))) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_alpn_select_cb(ctx, choose_alpn, o);
    if (keylog_file) SSL_CTX_set_keylog_callback(ctx, write_keylog);
    return ctx;
}

static int bind_udp(const char *host, const char *port) {
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return -1;
    /* Large transfers: a deeper receive queue than the default keeps loopback bursts from being dropped. */
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
    return -1;
}

static long cpu_ms(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
}

static void describe(SSL *conn, const char *tail) {
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(conn, &alpn, &alpn_len);
    int group = SSL_get_negotiated_group(conn);
    pthread_mutex_lock(&out_lock);
    printf("connection: group=%s cipher=%s alpn=%.*s %s\n",
           group ? SSL_group_to_name(conn, group) : "?", SSL_get_cipher_name(conn),
           (int)alpn_len, alpn ? (const char *)alpn : "", tail);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

/* Echo the default (first bidirectional) stream back until the client concludes it. */
static void serve_echo(SSL *conn) {
    unsigned char buf[16384];
    size_t got = 0, put = 0, total = 0;
    char tail[64];
    while (SSL_read_ex(conn, buf, sizeof buf, &got)) {
        if (!SSL_write_ex(conn, buf, got, &put)) break;
        total += got;
    }
    SSL_stream_conclude(conn, 0);
    snprintf(tail, sizeof tail, "echoed=%zu", total);
    describe(conn, tail);
    ERR_clear_error(); /* a client that vanished must not poison the next connection */
    SSL_shutdown(conn);
}

/* ---- hq-interop (HTTP/0.9 over QUIC) ------------------------------------------------------------ */

struct connection {
    SSL *conn;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    long streams_open, streams_total;
    unsigned long long served;
};

struct stream_job {
    struct connection *c;
    SSL *stream;
};

#define MAX_REQUEST 4096

/* The path of `GET /path` relative to the web root, or NULL if the request is malformed or climbs out. */
static const char *request_path(char *request) {
    if (strncmp(request, "GET /", 5) != 0) return NULL;
    char *path = request + 5;
    path[strcspn(path, " \r\n")] = '\0';
    path[strcspn(path, "?#")] = '\0';
    for (const char *seg = path; *seg;) { /* refuse any ".." segment */
        size_t n = strcspn(seg, "/");
        if (n == 2 && seg[0] == '.' && seg[1] == '.') return NULL;
        seg += n + (seg[n] == '/');
    }
    return *path ? path : "index.html";
}

static unsigned long long serve_request(SSL *stream) {
    char request[MAX_REQUEST + 1];
    size_t len = 0, got = 0;
    /* Read until the line ends or the client concludes the stream. */
    while (len < MAX_REQUEST && !memchr(request, '\n', len)) {
        if (!SSL_read_ex(stream, request + len, MAX_REQUEST - len, &got)) break;
        len += got;
    }
    request[len] = '\0';
    const char *path = request_path(request);
    char file[8192];
    int fd = -1;
    struct stat st;
    if (path && snprintf(file, sizeof file, "%s/%s", opts.www, path) < (int)sizeof file)
        fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        SSL_STREAM_RESET_ARGS reset = { .quic_error_code = 0x10c }; /* H3_REQUEST_REJECTED's value */
        SSL_stream_reset(stream, &reset, sizeof reset);
        return 0;
    }
    static __thread unsigned char buf[65536];
    unsigned long long sent = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        size_t put = 0;
        if (!SSL_write_ex(stream, buf, (size_t)n, &put)) break;
        sent += put;
    }
    close(fd);
    SSL_stream_conclude(stream, 0);
    return sent;
}

static void *stream_thread(void *arg) {
    struct stream_job *job = arg;
    unsigned long long sent = serve_request(job->stream);
    ERR_clear_error();
    SSL_free(job->stream);
    pthread_mutex_lock(&job->c->lock);
    job->c->served += sent;
    if (--job->c->streams_open == 0) pthread_cond_signal(&job->c->idle);
    pthread_mutex_unlock(&job->c->lock);
    free(job);
    return NULL;
}

static int spawn_detached(void *(*fn)(void *), void *arg) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int ok = pthread_create(&t, &attr, fn, arg) == 0;
    pthread_attr_destroy(&attr);
    return ok;
}

static void *connection_thread(void *arg) {
    struct connection *c = arg;
    SSL *conn = c->conn;
    if (SSL_do_handshake(conn) == 1) {
        if (opts.key_update) {
            /* Allowed once the handshake is confirmed; before that OpenSSL refuses, so retry a while. */
            for (int i = 0; i < 200 && !SSL_key_update(conn, SSL_KEY_UPDATE_REQUESTED); i++) {
                ERR_clear_error();
                SSL_handle_events(conn);
                usleep(5000);
            }
        }
        SSL *stream;
        while ((stream = SSL_accept_stream(conn, 0)) != NULL) {
            if (SSL_get_stream_type(stream) != SSL_STREAM_TYPE_BIDI) { SSL_free(stream); continue; }
            struct stream_job *job = malloc(sizeof *job);
            if (!job) { SSL_free(stream); continue; }
            job->c = c;
            job->stream = stream;
            pthread_mutex_lock(&c->lock);
            c->streams_open++;
            c->streams_total++;
            pthread_mutex_unlock(&c->lock);
            if (!spawn_detached(stream_thread, job)) {
                pthread_mutex_lock(&c->lock);
                c->streams_open--;
                pthread_mutex_unlock(&c->lock);
                SSL_free(stream);
                free(job);
            }
        }
    }
    pthread_mutex_lock(&c->lock);
    while (c->streams_open > 0) pthread_cond_wait(&c->idle, &c->lock);
    pthread_mutex_unlock(&c->lock);
    char tail[160];
    snprintf(tail, sizeof tail, "resumed=%s streams=%ld served=%llu cpu_ms=%ld",
             SSL_session_reused(conn) ? "yes" : "no", c->streams_total, c->served, cpu_ms());
    describe(conn, tail);
    ERR_clear_error();
    SSL_shutdown_ex(conn, SSL_SHUTDOWN_FLAG_NO_BLOCK, NULL, 0);
    SSL_free(conn);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->idle);
    free(c);
    pthread_mutex_lock(&live_lock);
    live_connections--;
    pthread_cond_broadcast(&live_cond);
    pthread_mutex_unlock(&live_lock);
    return NULL;
}

static int serve_www(SSL *listener) {
    for (long left = opts.connections; left != 0; left -= left > 0) {
        SSL *conn = SSL_accept_connection(listener, 0);
        if (!conn) return die("accepting a connection failed");
        struct connection *c = calloc(1, sizeof *c);
        if (!c || !SSL_set_default_stream_mode(conn, SSL_DEFAULT_STREAM_MODE_NONE)
            || !SSL_set_incoming_stream_policy(conn, SSL_INCOMING_STREAM_POLICY_ACCEPT, 0)) {
            free(c);
            SSL_free(conn);
            ERR_print_errors_fp(stderr);
            continue;
        }
        c->conn = conn;
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->idle, NULL);
        pthread_mutex_lock(&live_lock);
        live_connections++;
        pthread_mutex_unlock(&live_lock);
        if (!spawn_detached(connection_thread, c)) return die("cannot start a thread");
    }
    pthread_mutex_lock(&live_lock);
    while (live_connections > 0) pthread_cond_wait(&live_cond, &live_lock);
    pthread_mutex_unlock(&live_lock);
    return 0;
}

int main(int argc, char **argv) {
    if (!parse_args(argc, argv, &opts)) return usage(argv[0]);
    if (opts.www) {
        struct stat st;
        if (stat(opts.www, &st) != 0 || !S_ISDIR(st.st_mode)) return die("-www needs a directory");
    }
    if (opts.keylog_path && !(keylog_file = fopen(opts.keylog_path, "a"))) return die("cannot open the key log");
    SSL_CTX *ctx = make_context(&opts);
    if (!ctx) return die("cannot load the certificate, key, groups or ciphersuites");
    int fd = bind_udp(opts.host, opts.port);
    if (fd < 0) return die("cannot bind the UDP address");
    SSL *listener = SSL_new_listener(ctx, opts.no_retry ? SSL_LISTENER_FLAG_NO_VALIDATE : 0);
    if (!listener || !SSL_set_fd(listener, fd) || !SSL_listen(listener)) return die("cannot listen");
    printf("listening on %s:%s\n", opts.host, opts.port);
    fflush(stdout);
    int status = 0;
    if (opts.www) {
        status = serve_www(listener);
    } else {
        for (long left = opts.connections; left != 0; left -= left > 0) {
            SSL *conn = SSL_accept_connection(listener, 0);
            if (!conn) return die("accepting a connection failed");
            if (opts.key_update && !SSL_key_update(conn, SSL_KEY_UPDATE_REQUESTED)) ERR_clear_error();
            serve_echo(conn);
            SSL_free(conn);
        }
    }
    SSL_free(listener);
    SSL_CTX_free(ctx);
    return status;
}
