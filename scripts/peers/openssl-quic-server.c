/*
 * pqtls interop peer: a QUIC v1 echo server on the server API that OpenSSL gained in 3.5
 * (SSL_new_listener / SSL_accept_connection). It exists because `openssl s_server` has no QUIC mode,
 * and it is the only QUIC server on hand that negotiates X25519MLKEM768 with an ML-DSA certificate.
 *
 *   openssl-quic-server [-groups LIST] [-alpn P1,P2] [-keylog FILE] [-n CONNS] PORT CERT KEY
 *
 * Binds 127.0.0.1:PORT only. Serves connections one after another (all of them, or CONNS): echoes the
 * client's first bidirectional stream until the client concludes it, concludes its side, and prints
 *   connection: group=NAME cipher=NAME alpn=PROTO echoed=BYTES
 * With no -alpn the client's first offered protocol is taken, so any test ALPN works.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/quic.h>
#include <openssl/ssl.h>

struct options {
    const char *groups, *keylog_path, *port, *cert, *key;
    unsigned char alpn[256]; /* wire format: length-prefixed protocol names */
    unsigned int alpn_len;
    long connections; /* < 0: serve forever */
};

static FILE *keylog_file;

static int die(const char *why) {
    fprintf(stderr, "openssl-quic-server: %s\n", why);
    ERR_print_errors_fp(stderr);
    return 1;
}

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s [-groups LIST] [-alpn P1,P2] [-keylog FILE] [-n CONNS] PORT CERT KEY\n", argv0);
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
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc) return 0;
        const char *flag = argv[i], *value = argv[i + 1];
        if (!strcmp(flag, "-groups")) o->groups = value;
        else if (!strcmp(flag, "-keylog")) o->keylog_path = value;
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
    fprintf(keylog_file, "%s\n", line);
    fflush(keylog_file);
}

static SSL_CTX *make_context(struct options *o) {
    SSL_CTX *ctx = SSL_CTX_new(OSSL_QUIC_server_method());
    if (!ctx) return NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) <= 0
        || SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) <= 0
        || !SSL_CTX_check_private_key(ctx)
        || (o->groups && !SSL_CTX_set1_groups_list(ctx, o->groups))) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_alpn_select_cb(ctx, choose_alpn, o);
    if (keylog_file) SSL_CTX_set_keylog_callback(ctx, write_keylog);
    return ctx;
}

static int bind_loopback(const char *port) {
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
    return -1;
}

/* Echo the default (first bidirectional) stream back until the client concludes it. */
static void serve(SSL *conn) {
    unsigned char buf[16384];
    size_t got = 0, put = 0, total = 0;
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    while (SSL_read_ex(conn, buf, sizeof buf, &got)) {
        if (!SSL_write_ex(conn, buf, got, &put)) break;
        total += got;
    }
    SSL_stream_conclude(conn, 0);
    SSL_get0_alpn_selected(conn, &alpn, &alpn_len);
    int group = SSL_get_negotiated_group(conn);
    printf("connection: group=%s cipher=%s alpn=%.*s echoed=%zu\n",
           group ? SSL_group_to_name(conn, group) : "?", SSL_get_cipher_name(conn),
           (int)alpn_len, alpn ? (const char *)alpn : "", total);
    fflush(stdout);
    ERR_clear_error(); /* a client that vanished must not poison the next connection */
    SSL_shutdown(conn);
}

int main(int argc, char **argv) {
    struct options o;
    if (!parse_args(argc, argv, &o)) return usage(argv[0]);
    if (o.keylog_path && !(keylog_file = fopen(o.keylog_path, "a"))) return die("cannot open the key log");
    SSL_CTX *ctx = make_context(&o);
    if (!ctx) return die("cannot load the certificate, key or groups");
    int fd = bind_loopback(o.port);
    if (fd < 0) return die("cannot bind the UDP port on 127.0.0.1");
    SSL *listener = SSL_new_listener(ctx, 0);
    if (!listener || !SSL_set_fd(listener, fd) || !SSL_listen(listener)) return die("cannot listen");
    printf("listening on 127.0.0.1:%s\n", o.port);
    fflush(stdout);
    for (long left = o.connections; left != 0; left -= left > 0) {
        SSL *conn = SSL_accept_connection(listener, 0);
        if (!conn) return die("accepting a connection failed");
        serve(conn);
        SSL_free(conn);
    }
    SSL_free(listener);
    SSL_CTX_free(ctx);
    return 0;
}
