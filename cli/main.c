/*
 * main.c - tutti, the native client (issue 7, in progress): placeholder so
 * the tree builds while the commands are written.
 */
#include <stdio.h>

int
main(void)
{
	fputs("tutti: not built yet\n", stderr);
	return 1;
}
