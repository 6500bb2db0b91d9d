export * from './report-protocol.js'
