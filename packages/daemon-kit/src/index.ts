export * from './core.js'
export * from './metrics.js'
