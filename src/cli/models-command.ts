import type { Config } from '../config/config.js';
import { prepareModels } from '../engine/local-engine.js';
import { prepareInt8Model } from '../engine/models/int8-model.js';
import { MODELS } from '../engine/models/model-registry.js';
import { FACE_FIDELITY_PACKAGE, prepareFaceFidelityModel } from '../engine/models/model-store.js';

export const MODELS_HELP = `Usage: clearshot models prepare

Converts the Real-ESRGAN ncnn weights (and builds the int8 variant of fast unless
CLEARSHOT_PRECISION=fp32) and the face path's fidelity network (TensorFlow.js layers
weights) to ONNX once and caches them under
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
  if (config.precision !== 'fp32') {
    // Calibrated once here (about 10 s on 2 cores) rather than at the first start.
    const int8 = await prepareInt8Model(MODELS.fast, config.dataPath, config.modelDir);
    stdout.write(`${'fast-i8'.padEnd(8)} int8 variant of fast (CLEARSHOT_PRECISION): ${int8.converted ? 'built' : 'cached'} ${int8.path}\n`);
  }
  const face = await prepareFaceFidelityModel(config.dataPath);
  stdout.write(`${'face'.padEnd(8)} ${FACE_FIDELITY_PACKAGE} x4 (RDN, fidelity network of type=face): ${face.converted ? 'converted' : 'cached'} ${face.path}\n`);
  return 0;
}
