import { watch, type FSWatcher } from 'node:fs'

// A debounced watch on one directory. The directory, not its files, is watched: editors
// that save through a temp file + rename, and Kubernetes ConfigMap mounts (which swap a
// `..data` symlink), replace the file's inode, which a per-file watch would lose.

export const DEFAULT_DEBOUNCE_MS = 200
// Under a stream of writes the reload still happens at least this often.
export const DEFAULT_MAX_WAIT_MS = 1000
const REARM_MS = 1000

export interface DirWatchOptions {
  debounceMs?: number
  maxWaitMs?: number
  onError: (err: Error) => void
}

export interface DirWatch {
  close: () => void
}

export function watchDir (dir: string, onChange: () => void, opts: DirWatchOptions): DirWatch {
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS
  const maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS
  let watcher: FSWatcher | null = null
  let debounce: NodeJS.Timeout | undefined
  let rearm: NodeJS.Timeout | undefined
  let firstEventAt = 0
  let closed = false

  function schedule () {
    const now = Date.now()
    if (debounce === undefined) firstEventAt = now
    else clearTimeout(debounce)
    const wait = Math.max(0, Math.min(debounceMs, firstEventAt + maxWaitMs - now))
    // Timers never keep the process alive: shutdown must not wait for a pending reload.
    debounce = setTimeout(fire, wait).unref()
  }

  function fire () {
    debounce = undefined
    if (!closed) onChange()
  }

  function arm (): boolean {
    try {
      watcher = watch(dir, { persistent: false }, schedule)
    } catch (err) {
      opts.onError(err as Error)
      retry()
      return false
    }
    watcher.on('error', (err) => {
      opts.onError(err)
      watcher?.close()
      watcher = null
      retry()
    })
    return true
  }

  // The directory may be gone for a moment (replaced by a deploy); watch it again and
  // re-read it, since changes made meanwhile were not seen.
  function retry () {
    if (closed || rearm !== undefined) return
    rearm = setTimeout(() => {
      rearm = undefined
      if (!closed && arm()) schedule()
    }, REARM_MS).unref()
  }

  arm()
  return {
    close () {
      closed = true
      clearTimeout(debounce)
      clearTimeout(rearm)
      watcher?.close()
      watcher = null
    },
  }
}
