// Config reload: servicesDir watch, SIGHUP, and the admin API's service changes.
export { createReloader, Reloader, type ChangeOutcome, type ReloadEvent, type ReloadTrigger, type ReloaderOptions, type LastReload } from './reloader.ts'
export { reloadOnSighup } from './sighup.ts'
export { DEFAULT_DEBOUNCE_MS, DEFAULT_MAX_WAIT_MS } from './watch-dir.ts'
