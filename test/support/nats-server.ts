/**
 * A real nats-server with JetStream for the cluster tests (`startNatsServer` of the bench, which
 * runs its own the same way). No server binary is a failure with the way to get one, never a
 * skip: these tests are the cluster's proof.
 */
export { startNatsServer, type NatsServer, type NatsServerOptions } from '../../src/bench/nats-server.js';
