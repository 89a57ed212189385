// Self-signed certificates and a small CA made with the openssl CLI, per test, in a temp
// directory removed when the test ends. EC P-256 keys: fast to make.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

export interface CertFiles {
  cert: string // paths
  key: string
  certPem: string
  keyPem: string
  fingerprint256: string
}

const SAN = 'subjectAltName=DNS:localhost,IP:127.0.0.1'

function openssl (args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function filesOf (cert: string, key: string): CertFiles {
  const certPem = readFileSync(cert, 'utf8')
  return { cert, key, certPem, keyPem: readFileSync(key, 'utf8'), fingerprint256: new X509Certificate(certPem).fingerprint256 }
}

export function certDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// A self-signed certificate for localhost / 127.0.0.1 (its own CA for the client). EC
// unless `rsa`: the ECDHE-RSA-* suites need an RSA certificate.
export function selfSigned (dir: string, name: string, cn = 'localhost', opts: { rsa?: boolean } = {}): CertFiles {
  const cert = join(dir, `${name}.pem`)
  const key = join(dir, `${name}.key`)
  const keyArgs = opts.rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
  openssl(['req', '-x509', ...keyArgs, '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`, '-addext', SAN])
  return filesOf(cert, key)
}

// A CA and a leaf for 127.0.0.1 it signed (for upstreams that need a private CA).
export function caAndLeaf (dir: string, name: string): { ca: CertFiles, leaf: CertFiles } {
  const ca = selfSigned(dir, `${name}-ca`, `${name} test CA`)
  const cert = join(dir, `${name}-leaf.pem`)
  const key = join(dir, `${name}-leaf.key`)
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', SAN,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-CA', ca.cert, '-CAkey', ca.key])
  return { ca, leaf: filesOf(cert, key) }
}

// Replaces a file the way deploy tools do: a temp file renamed over it.
export function replaceFile (path: string, content: string): void {
  const temp = `${path}.tmp-${process.pid}`
  writeFileSync(temp, content)
  renameSync(temp, path)
}
