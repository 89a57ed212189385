// deploy/kubernetes builds with kustomize, every object is valid against the Kubernetes
// OpenAPI schema (kubernetes-models), the Deployment's probes and shutdown timings fit
// the gateway config it mounts, and that config, as mounted, passes `gatehouse check`.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { Service } from 'kubernetes-models/v1/Service'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import type { IContainer } from 'kubernetes-models/v1/Container'
import { runCheck } from '../../apps/gateway/commands/check.ts'
import { loadConfig } from '../../apps/gateway/config/index.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
const skip = kubectl.status === 0 ? false : 'kubectl not installed (apt-get install kubectl): deploy/kubernetes not built'

interface K8sObject { apiVersion: string, kind: string, metadata: { name: string, labels?: Record<string, string> }, [key: string]: unknown }

const MODELS: Record<string, new (data: never) => { validate: () => void }> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 ConfigMap': ConfigMap,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
}

function build (): K8sObject[] {
  const out = spawnSync('kubectl', ['kustomize', join(root, 'deploy/kubernetes')], { encoding: 'utf8', timeout: 30_000 })
  assert.equal(out.status, 0, `kubectl kustomize failed: ${out.stderr}`)
  return parseAllDocuments(out.stdout).map((d) => d.toJS() as K8sObject)
}

const objects = skip === false ? build() : []
const find = (kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name)
  assert.ok(o, `${kind}/${name} in the build`)
  return o
}
const gateway = () => find('Deployment', 'gatehouse') as unknown as Deployment
const container = (): IContainer => gateway().spec!.template.spec!.containers.find((c) => c.name === 'gatehouse')!

test('kubectl kustomize builds deploy/kubernetes, and every object validates against the Kubernetes OpenAPI schema', { skip }, () => {
  const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()
  assert.deepEqual(kinds.filter((k) => !k.startsWith('ConfigMap/')), [
    'Deployment/gatehouse', 'Deployment/gatehouse-redis', 'HorizontalPodAutoscaler/gatehouse', 'PodDisruptionBudget/gatehouse',
    'Service/gatehouse', 'Service/gatehouse-admin', 'Service/gatehouse-redis',
  ])
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion} ${o.kind}`]
    assert.ok(Model, `no schema model for ${o.apiVersion} ${o.kind}: add it to MODELS`)
    assert.doesNotThrow(() => new Model(o as never).validate(), `${o.kind}/${o.metadata.name}`)
  }
})

test('the schema check is real: a misspelt or mistyped field fails validation', { skip }, () => {
  const d = structuredClone(gateway()) as unknown as Record<string, any>
  d.spec.replicas = 'two'
  assert.throws(() => new Deployment(d as never).validate())
  const probe = structuredClone(gateway()) as unknown as Record<string, any>
  probe.spec.template.spec.containers[0].readinessProbe.httpGet.port = { name: 'admin' }
  assert.throws(() => new Deployment(probe as never).validate())
})

test('the gateway Deployment: 2+ replicas, /readyz and /livez on the admin port, non-root, read-only root, resources set', { skip }, () => {
  const d = gateway()
  const pod = d.spec!.template.spec!
  const c = container()
  assert.ok((d.spec!.replicas ?? 1) >= 2)
  assert.deepEqual(c.readinessProbe?.httpGet && { path: c.readinessProbe.httpGet.path, port: c.readinessProbe.httpGet.port }, { path: '/readyz', port: 'admin' })
  assert.deepEqual(c.livenessProbe?.httpGet && { path: c.livenessProbe.httpGet.path, port: c.livenessProbe.httpGet.port }, { path: '/livez', port: 'admin' })
  assert.deepEqual(c.ports?.map((p) => [p.name, p.containerPort]), [['http', 8080], ['admin', 8081]])
  assert.equal(pod.securityContext?.runAsNonRoot, true)
  assert.ok((pod.securityContext?.runAsUser ?? 0) > 0)
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true)
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false)
  assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory)
  const hpa = find('HorizontalPodAutoscaler', 'gatehouse') as unknown as HorizontalPodAutoscaler
  assert.ok((hpa.spec!.minReplicas ?? 1) >= 2 && hpa.spec!.scaleTargetRef.name === 'gatehouse')
  const admin = find('Service', 'gatehouse-admin') as unknown as Service
  assert.equal(admin.spec?.type, 'ClusterIP')
  assert.equal(admin.spec?.ports?.[0]?.targetPort, 'admin')
})

// The files of the ConfigMaps as the Deployment mounts them, written under a temp root.
async function mountedConfig (t: TestContext): Promise<{ file: string, env: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-k8s-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const pod = gateway().spec!.template.spec!
  for (const mount of container().volumeMounts ?? []) {
    const volume = pod.volumes!.find((v) => v.name === mount.name)!
    await mkdir(join(dir, mount.mountPath), { recursive: true })
    if (volume.configMap === undefined) continue
    const cm = find('ConfigMap', volume.configMap.name!) as unknown as ConfigMap
    for (const [key, text] of Object.entries(cm.data ?? {})) await writeFile(join(dir, mount.mountPath, key), text)
  }
  const args = container().args!
  const config = args[args.indexOf('--config') + 1]!
  assert.ok(posix.isAbsolute(config))
  // The container's env: literal values as they are, secrets as stand-ins.
  const env: Record<string, string> = {}
  for (const e of container().env ?? []) env[e.name] = e.value ?? `stand-in-for-${e.valueFrom?.secretKeyRef?.key}`
  return { file: join(dir, config), env }
}

test('the mounted config passes gatehouse check, with the container\'s environment', { skip }, async (t) => {
  const { file, env } = await mountedConfig(t)
  let out = ''
  let err = ''
  const code = await runCheck({ config: file }, { stdout: { write: (s: string) => { out += s } }, stderr: { write: (s: string) => { err += s } }, env })
  assert.equal(code, 0, err)
  assert.match(out, /^ok: [1-9]\d* services\n$/)
  const { config } = await loadConfig(file, env)
  assert.equal(config!.rateLimit?.store, 'redis')
  assert.equal(config!.admin.host, '0.0.0.0', 'the kubelet probes the pod IP')
  assert.equal(config!.admin.port, 8081)
  assert.equal(config!.server.port, 8080)
})

test('shutdown timings fit the mounted config: grace > preStop + timeouts.drain + the process\'s 5 s margin; readiness reacts well within the drain', { skip }, async (t) => {
  const { file, env } = await mountedConfig(t)
  const { config } = await loadConfig(file, env)
  const drainS = config!.server.timeouts.drainMs / 1000
  const grace = gateway().spec!.template.spec!.terminationGracePeriodSeconds!
  const c = container()
  const preStop = c.lifecycle?.preStop?.sleep?.seconds
  assert.ok(preStop !== undefined && preStop >= 3, 'a preStop pause so endpoints drop the pod before SIGTERM')
  // server.ts: close-with-grace cuts the process drain + 5 s after the signal.
  assert.ok(grace > preStop + drainS + 5, `terminationGracePeriodSeconds ${grace} <= preStop ${preStop} + drain ${drainS} + 5`)
  const r = c.readinessProbe!
  assert.ok((r.timeoutSeconds ?? 1) < (r.periodSeconds ?? 10))
  assert.ok((r.periodSeconds ?? 10) * (r.failureThreshold ?? 3) <= drainS / 2, 'a draining pod is unready within half the drain')
  const l = c.livenessProbe!
  assert.ok((l.periodSeconds ?? 10) * (l.failureThreshold ?? 3) >= 20, 'liveness tolerates a busy moment')
})
