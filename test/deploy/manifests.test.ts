// deploy/'s Kubernetes and KServe manifests (issue #13, item 6): every YAML file parses, and the
// fields that must agree with the server do: probe paths are routes of the app, ports are PORT,
// env names are configuration variables with valid values, the grace period outlasts the
// shutdown, the Service, autoscaler and InferenceService point at what exists.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { buildApp } from '../../src/app.ts';
import { ENV_NAMES, loadConfig } from '../../src/config.ts';
import { ModelRegistry } from '../../src/pipelines/registry.ts';
import type { App } from '../../src/http/context.ts';
import { testLimits } from '../helpers/app.ts';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
/** Where KServe's storage initializer puts an InferenceService's storageUri. */
const KSERVE_MODELS = '/mnt/models';

/** A parsed YAML object: the test reads it by path and asserts on what it finds. */
type Doc = Record<string, any>;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? yamlFiles(full) : /\.ya?ml$/.test(e.name) ? [full] : [];
  });
}

const files = yamlFiles(DEPLOY);
const docs: Doc[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    assert.deepEqual(doc.errors, [], `${file}: ${doc.errors.join('; ')}`);
    return { ...(doc.toJS() as Doc), file: path.relative(DEPLOY, file) };
  }),
);

function only(kind: string): Doc {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `one ${kind} in deploy/`);
  return found[0];
}

/** The container's literal env values (entries from a Secret have none: their values are the cluster's). */
const envOf = (container: Doc): Record<string, string> =>
  Object.fromEntries((container.env as Doc[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));

let app: App;
before(async () => {
  // An empty registry: the routes are what matters here, not models.
  const registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, testLimits(), { info() {}, error() {} });
  app = await buildApp(loadConfig({}, { logLevel: 'silent' }), { registry });
  await app.ready();
});

/** What every serving container must get right: env, port, probes. */
function checkContainer(container: Doc, where: string) {
  const env = envOf(container);
  const known = new Set(Object.values(ENV_NAMES));
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${where}: ${name} is not a variable of src/config.ts`);
  // Every value is accepted by the server's own validation (it would refuse to start).
  const config = loadConfig(env);
  const ports = (container.ports as Doc[]).map((p) => p.containerPort);
  assert.deepEqual(ports, [config.port], `${where}: the container port is PORT`);
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    const get = container[probe]?.httpGet;
    if (!get) continue;
    assert.ok(app.hasRoute({ method: 'GET', url: get.path }), `${where}: ${probe} path ${get.path} is a route`);
    const port = typeof get.port === 'string' ? (container.ports as Doc[]).find((p) => p.name === get.port)?.containerPort : get.port;
    assert.equal(port, config.port, `${where}: ${probe} port`);
  }
  for (const side of ['requests', 'limits']) {
    assert.ok(container.resources?.[side]?.cpu && container.resources?.[side]?.memory, `${where}: resources.${side}`);
  }
  assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${where}: no privilege escalation`);
  return config;
}

/** Kubernetes memory quantity (Mi, Gi) in MiB. */
function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  assert.ok(m, `a memory quantity in Mi or Gi: ${quantity}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

describe('deploy/ manifests', () => {
  test('every YAML file parses to documents with apiVersion, kind and a name', () => {
    assert.deepEqual(
      docs.map((d) => d.file).sort(),
      ['k8s/deployment.yaml', 'k8s/hpa.yaml', 'k8s/service.yaml', 'kserve/inference-service.yaml', 'kserve/serving-runtime.yaml'],
    );
    for (const d of docs) assert.ok(d.apiVersion && d.kind && d.metadata?.name, d.file);
  });

  test('Deployment: probes on routes of the app, port PORT, env the server accepts, non-root, resources', () => {
    const deployment = only('Deployment');
    assert.equal(deployment.apiVersion, 'apps/v1');
    const pod = deployment.spec.template.spec;
    assert.deepEqual(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels);
    assert.equal(pod.containers.length, 1);
    const container = pod.containers[0];
    const config = checkContainer(container, 'Deployment');
    assert.deepEqual(
      ['startupProbe', 'livenessProbe', 'readinessProbe'].map((p) => container[p].httpGet.path),
      ['/readyz', '/healthz', '/readyz'],
    );
    // Model loading gets minutes before the kubelet gives up on the pod.
    const startup = container.startupProbe;
    assert.ok(startup.periodSeconds * startup.failureThreshold >= 120, 'startup probe allows >= 2 min for loading');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.notEqual(pod.securityContext.runAsUser, 0);
    assert.equal(config.modelsDir, '/app/models', 'the image keeps its models at /app/models');
    assert.ok(config.headMemoryBudgetMB < mebibytes(container.resources.limits.memory), 'the MC head budget fits the memory limit');
    // The kubelet's SIGKILL comes after the whole shutdown: readiness delay, then the drain.
    const shutdownMs = config.shutdownReadinessDelayMs + config.shutdownDrainTimeoutMs;
    assert.ok(config.shutdownReadinessDelayMs > 0, 'readiness turns off before the listener closes');
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > shutdownMs, `terminationGracePeriodSeconds > ${shutdownMs} ms`);
    // The secrets come from an optional Secret: a cluster without it still starts the pod.
    const secrets = (container.env as Doc[]).filter((e) => e.valueFrom);
    assert.deepEqual(secrets.map((e) => e.name).sort(), ['API_KEYS', 'MODEL_CONTROL_TOKEN']);
    for (const e of secrets) {
      assert.ok(Object.values(ENV_NAMES).includes(e.name));
      assert.equal(e.valueFrom.secretKeyRef.optional, true, `${e.name}: optional`);
    }
  });

  test("Service: selects the Deployment's pods and targets its http port", () => {
    const service = only('Service');
    const deployment = only('Deployment');
    assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
    const containerPorts = deployment.spec.template.spec.containers[0].ports as Doc[];
    for (const port of service.spec.ports as Doc[]) assert.ok(containerPorts.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort), `targetPort ${port.targetPort}`);
  });

  test('HorizontalPodAutoscaler: autoscaling/v2 on CPU, scaling the Deployment', () => {
    const hpa = only('HorizontalPodAutoscaler');
    const deployment = only('Deployment');
    assert.equal(hpa.apiVersion, 'autoscaling/v2');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: deployment.apiVersion, kind: 'Deployment', name: deployment.metadata.name });
    assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas);
    assert.deepEqual(hpa.spec.metrics.map((m: Doc) => m.resource?.name), ['cpu']);
    // Every container of a CPU-scaled pod must request CPU, or the autoscaler has no utilisation.
    assert.ok(deployment.spec.template.spec.containers.every((c: Doc) => c.resources.requests.cpu));
  });

  test('KServe: the runtime reads its models where KServe mounts them, and the InferenceService uses it', () => {
    const runtime = only('ServingRuntime');
    const service = only('InferenceService');
    assert.equal(runtime.apiVersion, 'serving.kserve.io/v1alpha1');
    assert.equal(service.apiVersion, 'serving.kserve.io/v1beta1');
    const [container] = runtime.spec.containers as Doc[];
    assert.equal(container.name, 'kserve-container');
    const config = checkContainer(container, 'ServingRuntime');
    assert.equal(config.modelsDir, KSERVE_MODELS);
    assert.equal(container.securityContext.runAsNonRoot, true);
    assert.deepEqual([container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path], ['/v2/health/ready', '/v2/health/live']);
    const model = service.spec.predictor.model;
    assert.equal(model.runtime, runtime.metadata.name);
    assert.ok((runtime.spec.supportedModelFormats as Doc[]).some((f) => f.name === model.modelFormat.name), `format ${model.modelFormat.name}`);
    assert.match(model.storageUri, /^[a-z0-9]+:\/\/\S+$/);
    const shutdownMs = config.shutdownReadinessDelayMs + config.shutdownDrainTimeoutMs;
    assert.ok(service.spec.predictor.terminationGracePeriodSeconds * 1000 > shutdownMs);
  });
});
