// The kit without prom-client's metric types (subpath `@has/daemon-kit/core`):
// what a daemon needs before it serves. runDaemon loads prom-client itself
// once the service has started; a daemon that imports its metric types from
// `@has/daemon-kit/metrics` after it serves keeps that cost off its start.

export * from './errors.js'
export * from './config-source.js'
export * from './units.js'
export * from './line-splitter.js'
export * from './logger.js'
export * from './metrics-server.js'
export * from './control.js'
export * from './control-peer.js'
export * from './listen-policy.js'
export * from './socket-path.js'
export * from './auth.js'
export * from './key-file.js'
export * from './replay-guard.js'
export * from './sender-epoch.js'
export * from './drop-log.js'
export * from './daemon.js'
export * from './cli-kit.js'
export * from './directives.js'
export * from './clock.js'
export * from './error-log.js'
