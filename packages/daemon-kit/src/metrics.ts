// The metric types every daemon registers, from prom-client. Apart from
// the rest of the kit (core.ts) because prom-client is the kit's costliest
// import: a daemon can load it after it serves (issue 18.12).

export { Registry, Counter, Gauge, Histogram, Summary } from 'prom-client'
