import { open, rename, unlink } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'

// A file written next to its target and renamed over it: a reader (the directory
// watcher, `gatehouse check`, a second instance) sees the old file or the new one,
// never half of one. The temp name starts with a dot and does not end in .yaml, so the
// servicesDir loader skips it.
export interface StagedFile {
  commit: () => Promise<void>
  discard: () => Promise<void>
}

export async function stageFile (target: string, content: string): Promise<StagedFile> {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', 0o644)
  try {
    await handle.writeFile(content, 'utf8')
    await handle.datasync()
  } catch (err) {
    await handle.close()
    await unlink(temp).catch(() => {})
    throw err
  }
  await handle.close()
  return {
    commit: () => rename(temp, target),
    discard: () => unlink(temp).catch(() => {}),
  }
}

export async function removeFile (file: string): Promise<void> {
  try {
    await unlink(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
