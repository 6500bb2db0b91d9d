// The mount point users see. Replicas are bind-mounted onto it as a stack
// of at most two layers: switching to a new server mounts it on top (new
// path lookups see it at once), switching back to the layer underneath
// lazily unmounts the top (again atomic for new lookups). Open files and
// working directories keep the layer they were opened on; they are not
// migrated. A symlink swap would give the same "new opens see the healthy
// server" property but a mount point that is not a mount point (findmnt,
// systemd .mount units and `df` would not see it), so layers it is.

import type { MountOps } from './mounter.js'

export class Presenter {
  /** Server names, bottom layer first. */
  readonly #layers: string[] = []

  constructor(
    readonly mountPoint: string,
    readonly ops: MountOps,
  ) {}

  get layers(): readonly string[] {
    return this.#layers
  }

  get top(): string | null {
    return this.#layers.at(-1) ?? null
  }

  /** Makes `server` (mounted at `staging`) what new lookups see. */
  async present(
    server: string,
    staging: string,
  ): Promise<'none' | 'push' | 'pop'> {
    if (this.top === server) return 'none'
    if (this.#layers.at(-2) === server) {
      if (await this.ops.detach(this.mountPoint)) {
        this.#layers.pop()
        return 'pop'
      }
      // Could not pop (should not happen with umount -l): push instead.
    }
    await this.ops.bind(staging, this.mountPoint)
    this.#layers.push(server)
    return 'push'
  }

  /** Removes every layer this presenter put on the mount point. */
  async clear(): Promise<void> {
    while (this.#layers.length) {
      await this.ops.detach(this.mountPoint)
      this.#layers.pop()
    }
  }
}
