import { readFile } from 'node:fs/promises'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { createSecureContext } from 'node:tls'

// The public port's certificate and key, read from the files `server.tls` names and
// checked before a listener ever uses them: both parse, the key belongs to the
// certificate, and OpenSSL accepts the pair. A pair that fails is never handed to a
// server, so a half-written or mismatched file cannot take TLS down.

export interface TlsFiles {
  cert: string // absolute paths
  key: string
}

export interface CertificatePair {
  cert: Buffer
  key: Buffer
  // SHA-256 of the leaf certificate, as `openssl x509 -fingerprint -sha256` prints it.
  fingerprint256: string
  subject: string
  validTo: string
}

export async function readCertificatePair (files: TlsFiles): Promise<CertificatePair> {
  const [cert, key] = await Promise.all([
    readFile(files.cert).catch((err: NodeJS.ErrnoException) => { throw new Error(`cannot read ${files.cert}: ${err.code ?? err.message}`) }),
    readFile(files.key).catch((err: NodeJS.ErrnoException) => { throw new Error(`cannot read ${files.key}: ${err.code ?? err.message}`) }),
  ])
  return checkCertificatePair(cert, key, files)
}

export function checkCertificatePair (cert: Buffer, key: Buffer, files: TlsFiles): CertificatePair {
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw new Error(`${files.cert} is not a PEM certificate (${(err as Error).message})`)
  }
  let privateKey
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    throw new Error(`${files.key} is not a PEM private key (${(err as Error).message})`)
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`${files.key} is not the key of the certificate in ${files.cert}`)
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    throw new Error(`the certificate and key are refused by OpenSSL (${(err as Error).message})`)
  }
  return { cert, key, fingerprint256: x509.fingerprint256, subject: x509.subject.replace(/\n/g, ', '), validTo: x509.validTo }
}
