// The relay tests of proxy-service.ts again, on the net.Socket engine: the
// fallback when Node's TCP handles are not as relay-handles.ts expects.
process.env.TM_PROXY_RELAY = 'streams'
await import('./proxy-service.js')
