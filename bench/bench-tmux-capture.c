/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER */
int main (void) { return 0; }
