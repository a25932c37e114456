/*
 * token.c - random tokens, their hashes, and room codes, on OpenSSL's
 * CSPRNG (RAND_bytes), SHA-256 and base64 (EVP_EncodeBlock).
 */
#include "token.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

int
token_new(char *out)
{
	unsigned char raw[24];
	unsigned char b64[33];
	int i, n;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	n = EVP_EncodeBlock(b64, raw, sizeof(raw));	/* 24 bytes: no padding */
	if (n != TOKEN_LEN)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	out[n] = '\0';
	return 0;
}

int
token_hash(const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;
	unsigned int i;

	if (EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
	return 0;
}

int
token_valid(const char *s, size_t n)
{
	size_t i;

	if (n != TOKEN_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int
code_new(char *out)
{
	const size_t na = sizeof(CODE_ALPHABET) - 1;
	const unsigned limit = 256 - 256 % na;	/* rejection sampling: no bias */
	unsigned char r;
	int i = 0;

	while (i < CODE_LEN) {
		if (RAND_bytes(&r, 1) != 1)
			return -1;
		if (r >= limit)
			continue;
		out[i++] = CODE_ALPHABET[r % na];
	}
	out[CODE_LEN] = '\0';
	return 0;
}

int
code_valid(const char *s)
{
	size_t i;

	for (i = 0; i < CODE_LEN; i++)
		if (s[i] == '\0' || strchr(CODE_ALPHABET, s[i]) == NULL)
			return 0;
	return s[CODE_LEN] == '\0';
}
