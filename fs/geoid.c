/*
 * geoid.c — parsing of file and object ids. See geoid.h.
 */
#include <errno.h>

#include "geoid.h"

int geo_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int geoid_parse(const char *hex, struct geo_id *out)
{
	struct geo_id id;

	if (!hex)
		return -EINVAL;
	for (int i = 0; i < GEO_ID_LEN; i++) {
		int hi = geo_hexval(hex[2 * i]);
		int lo = hi < 0 ? -1 : geo_hexval(hex[2 * i + 1]);

		if (lo < 0)
			return -EINVAL;
		id.b[i] = (uint8_t)(hi << 4 | lo);
	}
	if (hex[GEO_HEX_LEN] != '\0')
		return -EINVAL;
	*out = id;
	return 0;
}
