"""TLS facts the tuner emits and the audit holds a server to: one source for both."""

# OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are not governed by ssl_ciphers): strong
# suites only — no NULL or anonymous suites, MD5, 3DES, RC4, CAMELLIA, or SHA-1 MACs.
STRONG_CIPHERS = "HIGH:!aNULL:!eNULL:!MD5:!3DES:!RC4:!CAMELLIA:!SHA1"
