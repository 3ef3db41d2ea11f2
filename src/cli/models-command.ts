import type { Config } from '../config/config.js';
import { prepareModels } from '../engine/local-engine.js';
import { MODELS } from '../engine/models/model-registry.js';
import { FACE_FIDELITY_PACKAGE, prepareFaceFidelityModel } from '../engine/models/model-store.js';

export const MODELS_HELP = `Usage: clearshot models prepare

Converts the Real-ESRGAN ncnn weights and the face path's fidelity network
(TensorFlow.js layers weights) to ONNX once and caches them under
$DATA_DIR/models (run by \`npm install\`; the service also does it at start).
`;

export async function runModels(argv: string[], config: Config, stdout: NodeJS.WriteStream): Promise<number> {
  if (argv[0] !== 'prepare') {
    stdout.write(MODELS_HELP);
    return argv[0] === undefined || argv[0] === '--help' || argv[0] === '-h' ? 0 : 2;
  }
  const prepared = await prepareModels({ dataDir: config.dataPath, modelSourceDir: config.modelDir });
  for (const p of Object.values(prepared)) {
    stdout.write(`${p.spec.name.padEnd(8)} ${MODELS[p.spec.name].description}: ${p.converted ? 'converted' : 'cached'} ${p.path}\n`);
  }
  const face = await prepareFaceFidelityModel(config.dataPath);
  stdout.write(`${'face'.padEnd(8)} ${FACE_FIDELITY_PACKAGE} x4 (RDN, fidelity network of type=face): ${face.converted ? 'converted' : 'cached'} ${face.path}\n`);
  return 0;
}
