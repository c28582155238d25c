// Validates Kubernetes manifests offline: every YAML document is checked
// against the schema of its apiVersion/kind (kubernetes-models: the Kubernetes
// OpenAPI schemas compiled to validators). Types, required fields and enums are
// checked; cross-references (a Service selecting the pods, a probe naming a
// declared port, volume mounts naming declared volumes) are checked here too.
//
//   node validate.mjs FILE.yaml...     exit 0 when every document is valid
import fs from "node:fs";
import YAML from "yaml";

const kinds = {
  "v1/Namespace": ["kubernetes-models/v1", "Namespace"],
  "v1/ConfigMap": ["kubernetes-models/v1", "ConfigMap"],
  "v1/Service": ["kubernetes-models/v1", "Service"],
  "v1/Secret": ["kubernetes-models/v1", "Secret"],
  "apps/v1/StatefulSet": ["kubernetes-models/apps/v1", "StatefulSet"],
  "apps/v1/DaemonSet": ["kubernetes-models/apps/v1", "DaemonSet"],
  "kustomize.config.k8s.io/v1beta1/Kustomization": null, // kustomize's own file
};

let errors = 0;
const fail = (where, msg) => {
  console.error(`${where}: ${msg}`);
  errors++;
};

function crossCheck(where, doc, all) {
  const spec = doc.spec?.template?.spec;
  if (!spec) return;
  const volumes = new Set((spec.volumes || []).map((v) => v.name));
  for (const t of doc.spec.volumeClaimTemplates || []) volumes.add(t.metadata.name);
  for (const c of spec.containers || []) {
    const ports = new Set((c.ports || []).map((p) => p.name));
    const portNumbers = new Set((c.ports || []).map((p) => p.containerPort));
    for (const m of c.volumeMounts || []) {
      if (!volumes.has(m.name)) fail(where, `container ${c.name} mounts undeclared volume ${m.name}`);
    }
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      const port = probe?.grpc?.port ?? probe?.httpGet?.port ?? probe?.tcpSocket?.port;
      if (port !== undefined && !ports.has(port) && !portNumbers.has(port)) {
        fail(where, `container ${c.name} probes undeclared port ${port}`);
      }
    }
    for (const v of spec.volumes || []) {
      if (v.configMap && !all.some((d) => d.kind === "ConfigMap" && d.metadata.name === v.configMap.name)) {
        fail(where, `volume ${v.name} refers to ConfigMap ${v.configMap.name}, not defined here`);
      }
    }
  }
  const labels = doc.spec.template.metadata?.labels || {};
  for (const [k, v] of Object.entries(doc.spec.selector?.matchLabels || {})) {
    if (labels[k] !== v) fail(where, `selector ${k}=${v} does not match the pod template's labels`);
  }
}

const docs = [];
for (const file of process.argv.slice(2)) {
  const parsed = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  parsed.forEach((d, i) => {
    if (d.errors.length) {
      fail(`${file}#${i}`, d.errors.map((e) => e.message).join("; "));
      return;
    }
    const obj = d.toJS();
    if (obj) docs.push({ where: `${file}#${i} ${obj.kind}/${obj.metadata?.name}`, obj });
  });
}
for (const { where, obj } of docs) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  if (!(key in kinds)) {
    fail(where, `unknown apiVersion/kind ${key}`);
    continue;
  }
  if (kinds[key] === null) continue;
  const [module, cls] = kinds[key];
  const Model = (await import(module))[cls];
  try {
    new Model(obj).validate();
  } catch (e) {
    fail(where, e.message);
  }
  crossCheck(where, obj, docs.map((d) => d.obj));
  if (obj.kind === "Service") {
    const sel = obj.spec.selector || {};
    const match = docs.some(({ obj: w }) => w.spec?.template && Object.entries(sel).every(([k, v]) => w.spec.template.metadata?.labels?.[k] === v));
    if (!match) fail(where, "selects no workload defined here");
  }
}
console.log(`validate: ${docs.length} documents, ${errors} error(s)`);
process.exit(errors ? 1 : 0);
