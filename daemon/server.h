/* server.h - the serving process, and the composition root of the
 * daemon: it makes the HTTP worker threads (each with its own event loop,
 * listener and database pool), the scheduler thread and the main thread's
 * signals, and wires the layers together. Only main.c includes it. */
#ifndef LIAISON_SERVER_H
#define LIAISON_SERVER_H

struct config;
struct config_sources;

/* Runs the server until SIGTERM/SIGINT. SIGHUP reads src again.
 * db_identity names the database (cli_database_identity), or is NULL:
 * then no rendered feed is kept across the restart. Returns the process
 * exit code. */
int server_run(struct config *cfg, const struct config_sources *src, const char *db_identity);

#endif
