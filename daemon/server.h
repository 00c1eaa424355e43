/* server.h - the serving process, and the composition root of the
 * daemon: it makes the HTTP worker threads (each with its own event loop,
 * listener and database pool), the scheduler thread and the main thread's
 * signals, and wires the layers together. Only main.c includes it. */
#ifndef LIAISON_SERVER_H
#define LIAISON_SERVER_H

struct config;
struct config_sources;

/* Runs the server until SIGTERM/SIGINT. SIGHUP reads src again. Returns
 * the process exit code. */
int server_run(struct config *cfg, const struct config_sources *src);

#endif
