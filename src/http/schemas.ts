/**
 * JSON schemas of the public API: they drive response serialisation and the OpenAPI
 * document (GET /openapi.json, /docs). Task fields follow the contract (README, "API"); fields
 * marked "extension" are ClearShot's own additions.
 */
export const taskDataSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    task_id: { type: 'string', description: 'Task ID (UUID).' },
    created_at: { type: 'integer', description: 'Creation time, Unix seconds.' },
    processed_at: { type: 'integer', description: 'When processing started, Unix seconds.' },
    completed_at: { type: 'integer', description: 'When the task settled, Unix seconds.' },
    progress: { type: 'integer', minimum: 0, maximum: 100, description: '100 when complete.' },
    state: {
      type: 'integer',
      description:
        '1 success; 4 accepted and not finished (queued, preparing or processing: a documented departure from the PicWish table, whose 0/2/3 are reported in phase_state); -1 failed, -2 storing failed, -3 download failed, -5 over the limits, -7 invalid image, -8 timeout.',
    },
    phase: { type: 'string', enum: ['queued', 'preparing', 'waiting', 'processing'], description: 'Extension: the phase of an open task (absent once it ended).' },
    phase_state: { type: 'integer', enum: [0, 2, 3, 4], description: "Extension: the PicWish table's code of that phase (0 queued, 2 preparing, 3 waiting, 4 processing)." },
    state_detail: { type: 'string', description: 'Short text, e.g. "Complete" or "Invalid image: <reason>".' },
    return_type: { type: 'integer', enum: [1, 2, 3] },
    image: { type: 'string', description: 'Result URL (return_type 1 or 3; valid for 1 hour) or base64 (return_type 2). Present when state = 1.' },
    image_width: { type: 'integer', description: 'Extension: result width in px.' },
    image_height: { type: 'integer', description: 'Extension: result height in px.' },
    input_width: { type: 'integer', description: 'Extension: input width in px (upright).' },
    input_height: { type: 'integer', description: 'Extension: input height in px (upright).' },
    credits: { type: 'integer', description: 'Extension: credits charged (present on success).' },
    type: { type: 'string', enum: ['clean', 'face'], description: 'Extension: echo of type.' },
    model: { type: 'string', enum: ['fast', 'quality'], description: 'Extension: model used.' },
    notes: { type: 'array', items: { type: 'string' }, description: 'Extension: what the engine did (first frame only, CMYK converted...).' },
    analysis: {
      type: 'object',
      description: 'Extension: what the engine measured on the input before choosing the strength (README, "Adaptive enhancement").',
      properties: {
        jpeg_quality: { type: ['integer', 'null'], description: 'JPEG quality 1-100: from the quantization tables of a JPEG, or estimated from 8x8 blocking for other formats; null when neither applies.' },
        jpeg_quality_source: { type: ['string', 'null'], enum: ['tables', 'blocking', null] },
        noise: { type: 'number', description: 'Noise sigma in 8-bit levels (flattest tenth of the image).' },
        sharpness: { type: 'number', description: '0-1, detail relative to the pixel grid (sharp photos ~0.45-0.8).' },
        blocking: { type: 'number', description: 'Step across 8x8 block borders over the step inside blocks (1 = none).' },
        degradation: { type: 'number', description: '0 (clean) to 1 (badly damaged): the worst of compression, noise and blur.' },
      },
    },
    strength: { type: 'number', minimum: 0, maximum: 1, description: "Extension: weight of the network's output used (0 = the input, classically resized; 1 = the network's output)." },
    strength_auto: { type: 'boolean', description: 'Extension: true when the strength was chosen from the analysis (no strength in the request).' },
    faces: {
      type: 'object',
      description: 'Extension, type=face: faces found and restored (at most 10, largest first); boxes in result pixels.',
      properties: {
        detected: { type: 'integer' },
        enhanced: { type: 'integer', maximum: 10 },
        restorer: { type: 'string', enum: ['fidelity', 'model'], description: 'fidelity = built-in network mix; model = CLEARSHOT_FACE_MODEL.' },
        boxes: {
          type: 'array',
          items: { type: 'object', properties: { x: { type: 'integer' }, y: { type: 'integer' }, width: { type: 'integer' }, height: { type: 'integer' }, score: { type: 'number' } } },
        },
      },
    },
  },
} as const;

export const taskEnvelopeSchema = {
  type: 'object',
  properties: {
    status: { type: 'integer', description: 'Repeats the HTTP status code.' },
    message: { type: 'string', description: '"success", or a human-readable reason.' },
    data: taskDataSchema,
  },
} as const;

/** Documentation of the create body (validated by create-params.ts, all encodings). */
export const createBodyDoc = {
  type: 'object',
  properties: {
    image_url: { type: 'string', maxLength: 512, description: 'Source image URL (http/https). Exactly one of image_url, image_file and image_base64.' },
    image_file: { type: 'string', format: 'binary', description: 'Source image file (multipart/form-data only). Up to 20 MB, 4096x4096 px.' },
    image_base64: {
      type: 'string',
      description: 'Source image as base64, raw or as a data URI (data:image/png;base64,...), in any body encoding. Up to 20 MB decoded (413 past it); malformed base64 is a 400 naming the field.',
    },
    sync: { type: 'integer', enum: [0, 1], default: 0, description: '1: wait and answer with the result.' },
    type: { type: 'string', enum: ['clean', 'face'], default: 'clean' },
    scale_factor: { type: 'integer', enum: [1, 2, 4], description: 'Empty = auto: long edge (10,512] -> 4x, (512,1024] -> 2x, (1024,4096] -> 1x.' },
    return_type: { type: 'integer', enum: [1, 2, 3], default: 1, description: '1 URL, 2 base64, 3 binary (sync=1 only).' },
    model: { type: 'string', enum: ['fast', 'quality'], description: 'Extension: network to use (default fast).' },
    format: { type: 'string', enum: ['jpg', 'png', 'webp', 'tiff'], description: "Extension: output format (default: the input's family)." },
    keep_gps: { type: 'integer', enum: [0, 1], default: 0, description: 'Extension: keep GPS EXIF tags (dropped by default).' },
    strength: {
      type: 'string',
      default: 'auto',
      description: "Extension: weight of the network's output, a number from 0 (faithful to the input: classically resized) to 1 (the network's output as is), or auto (default): chosen from the input's measured JPEG quality, noise and sharpness.",
    },
    face_strength: { type: 'number', minimum: 0, maximum: 1, description: 'Extension, type=face: weight of the restored faces inside their masks (default CLEARSHOT_FACE_STRENGTH).' },
    precision: { type: 'string', enum: ['auto', 'fp32', 'int8'], default: 'auto', description: "Extension: numeric precision of the fast network: auto (the server's choice, CLEARSHOT_PRECISION), fp32 or int8 (README, \"int8\"). The quality model always runs fp32." },
    fix_face_only: { type: 'integer', enum: [0, 1], default: 0, description: 'Restore the faces only (implies face restoration): outside the face masks the result is the input resized with a classical filter (Lanczos), not the network output.' },
    callback_url: {
      type: 'string',
      maxLength: 512,
      description:
        'Extension: http(s) URL that receives the final task view (the GET envelope) when the task ends, success or failure, signed in the Standard Webhooks convention. Same private-network guard as image_url, at creation and at delivery.',
    },
  },
} as const;

/** The callback_url webhook, as an OpenAPI callback of the create operation. */
export const taskEndedCallbackDoc = {
  taskEnded: {
    '{$request.body#/callback_url}': {
      post: {
        summary: 'The task ended (success or failure)',
        description:
          'At least once, retried with backoff (CLEARSHOT_WEBHOOK_RETRY_S) on network errors, timeouts and non-2xx answers. Headers: webhook-id (the task id, the same on every retry), webhook-timestamp (Unix seconds), webhook-signature ("v1,<base64 HMAC-SHA256 over id.timestamp.body>", space-separated when several secrets sign).',
        parameters: [
          { name: 'webhook-id', in: 'header', required: true, schema: { type: 'string' } },
          { name: 'webhook-timestamp', in: 'header', required: true, schema: { type: 'string' } },
          { name: 'webhook-signature', in: 'header', required: true, schema: { type: 'string' } },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: taskEnvelopeSchema } } },
        responses: { '2XX': { description: 'Delivered; anything else is retried.' } },
      },
    },
  },
} as const;
