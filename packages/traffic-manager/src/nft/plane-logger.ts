// A kernel plane's logger. traffic-manager's already names the service
// (service-set.ts): naming it again would repeat the key in every JSON
// line. An importer's logger without it gets it here.
import type { Logger } from '@has/daemon-kit/core'

export function planeLogger(
  logger: Logger,
  component: string,
  service: string,
): Logger {
  return logger.child({
    component,
    ...('service' in logger.bindings() ? {} : { service }),
  })
}
