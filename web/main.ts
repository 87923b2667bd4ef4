/**
 * The studio page: sign in, design with a live preview, save, watch the render arrive, and
 * manage "My designs". Plain DOM; every text a user or the API wrote is set with textContent.
 * Status is pushed by the server (src/http's event streams) and never polled.
 */
import { Api, ApiError, type Catalog, type DesignView, type UploadView } from './api.js';
import { DesignStore } from './design-store.js';
import { followEvents, type SseEvent } from './sse.js';

const PREVIEW_DEBOUNCE_MS = 150;
const TOKEN_KEY = 'customify.studio.token';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
};

const api = new Api();
let catalog: Catalog | undefined;
let session: AbortController | undefined;

// ---- Signing in ------------------------------------------------------------------------

/** The token's subject, for display only (the server verifies the token on every call). */
function subjectOf(token: string): string {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    return typeof payload.sub === 'string' ? payload.sub : 'unknown user';
  } catch {
    return 'unknown user';
  }
}

async function signIn(token: string): Promise<void> {
  api.token = token;
  // The event stream first, the list once it is `ready`: a change between the two is in the
  // list or told by the stream, never lost. The list is also the check of the token: a bad
  // one is refused there, under the token field.
  const stream = new AbortController();
  try {
    await followAllEvents(stream.signal);
    await designs.reload(listDesigns);
    session?.abort();
    session = stream;
  } catch (error) {
    stream.abort();
    throw error;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('who-name').textContent = subjectOf(token);
  $('who').hidden = false;
  $('sign-in').hidden = true;
  $('studio').hidden = false;
  renderDesignList();
  schedulePreview(0);
}

function signOut(message?: string): void {
  session?.abort();
  session = undefined;
  api.token = null;
  designs.clear();
  sessionStorage.removeItem(TOKEN_KEY);
  $('who').hidden = true;
  $('studio').hidden = true;
  $('sign-in').hidden = false;
  showError('token-error', message ?? '');
  $<HTMLInputElement>('token').value = '';
}

api.onUnauthorized = (error) => signOut(`Signed out: ${error.message}`);

$('dev-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('dev-name');
  void (async () => {
    clearError('dev-name-error', input);
    try {
      const { token } = await api.json<{ token: string }>('/api/v1/dev/session', { method: 'POST', json: { name: input.value.trim() } });
      await signIn(token);
    } catch (error) {
      showError('dev-name-error', messageOf(error), input);
      input.focus();
    }
  })();
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('token');
  const token = input.value.trim().replace(/^Bearer\s+/i, '');
  void (async () => {
    clearError('token-error', input);
    if (!token) return showError('token-error', 'Paste a token first.', input);
    try {
      await signIn(token);
      input.value = '';
    } catch (error) {
      api.token = null;
      showError('token-error', messageOf(error), input);
      input.focus();
    }
  })();
});

$('sign-out').addEventListener('click', () => signOut());

// ---- Errors under the field they name ---------------------------------------------------

/** API field (dotted) → the id of the input it names; its error paragraph is `${id}-error`. */
const FIELD_INPUTS: Record<string, string> = {
  product_type: 'product',
  'design_data.text': 'text',
  'design_data.font': 'font',
  'design_data.color': 'color',
  'design_data.text_color': 'text-color',
  'design_data.image': 'image',
  name: 'dev-name',
};
const DESIGN_ERRORS = ['product-error', 'text-error', 'font-error', 'color-error', 'text-color-error', 'image-error', 'form-error'];

function inputFor(field: string | undefined): string | undefined {
  if (!field) return undefined;
  const known = Object.keys(FIELD_INPUTS).find((prefix) => field === prefix || field.startsWith(`${prefix}.`));
  return known ? FIELD_INPUTS[known] : undefined;
}

function showError(errorId: string, message: string, input?: HTMLElement | null): void {
  const target = $(errorId);
  target.textContent = message;
  if (input) input.setAttribute('aria-invalid', message ? 'true' : 'false');
}

function clearError(errorId: string, input?: HTMLElement | null): void {
  showError(errorId, '', input);
}

function clearDesignErrors(): void {
  for (const id of DESIGN_ERRORS) {
    $(id).textContent = '';
    document.getElementById(id.replace(/-error$/, ''))?.removeAttribute('aria-invalid');
  }
}

/** An API refusal under its field (the form's foot when it names none). */
function showDesignError(error: unknown): void {
  const id = error instanceof ApiError ? inputFor(error.field) : undefined;
  if (id && id !== 'dev-name') showError(`${id}-error`, messageOf(error), document.getElementById(id));
  else showError('form-error', messageOf(error));
}

function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return `Could not reach the server: ${error.message}`;
  return String(error);
}

// ---- The design form --------------------------------------------------------------------

const form = $<HTMLFormElement>('design-form');
const product = $<HTMLSelectElement>('product');
const text = $<HTMLTextAreaElement>('text');
const color = $<HTMLInputElement>('color');
const colorSwatch = $<HTMLInputElement>('color-swatch');
const textColor = $<HTMLInputElement>('text-color');
const textColorSwatch = $<HTMLInputElement>('text-color-swatch');
const placement = $<HTMLSelectElement>('placement');
let imageUploadId: string | undefined;
let pendingUpload: { id: string; name: string } | undefined;
const uploadStatuses = new Map<string, UploadView>();

const fontFamily = (name: string) => `"studio-${name}", system-ui, sans-serif`;
const productLabel = (type: string) => (type === 't-shirt' ? 'T-shirt' : type[0]!.toUpperCase() + type.slice(1).replace(/-/g, ' '));

function selectedFont(): string {
  return form.querySelector<HTMLInputElement>('input[name="font"]:checked')?.value ?? catalog?.fonts[0]?.name ?? 'Roboto-Bold';
}

function designBody(): Record<string, unknown> {
  const data: Record<string, unknown> = { font: selectedFont(), color: color.value.trim() };
  if (text.value.trim() || !imageUploadId) data.text = text.value;
  if (textColor.value.trim()) data.text_color = textColor.value.trim();
  if (imageUploadId) data.image = { upload_id: imageUploadId, placement: { position: placement.value } };
  return { product_type: product.value, design_data: data };
}

function buildForm(choices: Catalog): void {
  for (const type of choices.product_types) product.append(new Option(productLabel(type), type));
  const grid = $('fonts');
  choices.fonts.forEach((font, index) => {
    // Each font's name in its own face, from the bundled TTF the renderer uses.
    const face = new FontFace(`studio-${font.name}`, `url("${font.url}")`, { display: 'swap' });
    document.fonts.add(face);
    void face.load().catch(() => undefined);
    const id = `font-${index}`;
    const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'font', id, value: font.name, checked: index === 0 });
    const label = Object.assign(document.createElement('label'), { htmlFor: id, textContent: font.name.replace(/-/g, ' ') });
    label.style.fontFamily = fontFamily(font.name);
    const option = document.createElement('div');
    option.className = 'font-option';
    option.append(input, label);
    grid.append(option);
  });
  const start = choices.fonts.find((font) => font.name === 'Pacifico-Regular') ?? choices.fonts[0];
  const startInput = start && form.querySelector<HTMLInputElement>(`input[value="${CSS.escape(start.name)}"]`);
  if (startInput) startInput.checked = true;
}

// Swatch and hex field stay in step; the hex field is what is sent (and what an error names).
function pairColour(swatch: HTMLInputElement, field: HTMLInputElement): void {
  swatch.addEventListener('input', () => {
    field.value = swatch.value.toUpperCase();
    schedulePreview();
  });
  field.addEventListener('input', () => {
    const value = field.value.trim();
    if (/^#[0-9a-f]{6}$/i.test(value)) swatch.value = value.toLowerCase();
    else if (/^#[0-9a-f]{3}$/i.test(value)) swatch.value = `#${[...value.slice(1)].map((c) => c + c).join('')}`.toLowerCase();
  });
}
pairColour(colorSwatch, color);
pairColour(textColorSwatch, textColor);

form.addEventListener('input', (event) => {
  if (event.target !== $('image')) schedulePreview();
});
form.addEventListener('change', (event) => {
  if (event.target === product || event.target === placement) schedulePreview();
});

// ---- Live preview -----------------------------------------------------------------------

const previewImg = $<HTMLImageElement>('preview');
const previewStatus = $('preview-status');
let previewTimer: ReturnType<typeof setTimeout> | undefined;
let previewRequest: AbortController | undefined;
let previewUrl: string | undefined;

function schedulePreview(delay = PREVIEW_DEBOUNCE_MS): void {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(() => void updatePreview(), delay);
}

async function updatePreview(): Promise<void> {
  if (!api.token) return;
  previewRequest?.abort();
  const request = new AbortController();
  previewRequest = request;
  const body = designBody();
  previewStatus.textContent = 'Updating preview…';
  try {
    const response = await api.request('/api/v1/previews', { method: 'POST', json: body, accept: 'image/webp', signal: request.signal });
    const blob = await response.blob();
    if (request.signal.aborted) return;
    clearDesignErrors();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(blob);
    previewImg.src = previewUrl;
    previewImg.alt = describe(body);
    previewStatus.textContent = 'Preview up to date.';
  } catch (error) {
    if (request.signal.aborted) return;
    if (error instanceof ApiError && error.status === 429) {
      previewStatus.textContent = `Too many previews: the next one in ${error.retryAfterSeconds ?? 1} s.`;
      schedulePreview((error.retryAfterSeconds ?? 1) * 1000);
      return;
    }
    clearDesignErrors();
    showDesignError(error);
    previewStatus.textContent = 'The preview shows the last design the server accepted.';
  }
}

/** Alt text: what the image shows. */
function describe(body: Record<string, unknown>): string {
  const data = body.design_data as { text?: string; font: string; color: string; text_color?: string; image?: unknown };
  const words = data.text?.trim() ? `“${data.text.trim()}” in ${data.font.replace(/-/g, ' ')}` : 'An image';
  return `Preview: ${words} on a ${productLabel(String(body.product_type)).toLowerCase()}, background ${data.color}${data.image ? ', with your image' : ''}`;
}

// ---- Image upload -----------------------------------------------------------------------

const imageInput = $<HTMLInputElement>('image');
const imageStatus = $('image-status');

imageInput.addEventListener('change', () => {
  const file = imageInput.files?.[0];
  if (!file) return;
  void (async () => {
    clearError('image-error', imageInput);
    imageStatus.textContent = `Uploading ${file.name}…`;
    try {
      const upload = await api.json<UploadView>('/api/v1/uploads', { method: 'POST', body: file });
      pendingUpload = { id: upload.id, name: file.name };
      imageStatus.textContent = `Checking ${file.name}…`;
      // The events stream may have told of it before this answer arrived.
      onUpload(uploadStatuses.get(upload.id) ?? upload);
    } catch (error) {
      imageStatus.textContent = '';
      showError('image-error', messageOf(error), imageInput);
    }
  })();
});

function onUpload(upload: UploadView): void {
  uploadStatuses.set(upload.id, upload);
  if (!pendingUpload || upload.id !== pendingUpload.id) return;
  if (upload.status === 'PUBLISHED') {
    imageUploadId = upload.id;
    imageStatus.textContent = `${pendingUpload.name} is ready.`;
    pendingUpload = undefined;
    $('image-options').hidden = false;
    schedulePreview(0);
  } else if (upload.status === 'REJECTED' || upload.status === 'DELETED') {
    showError('image-error', upload.message ?? 'The image was refused.', imageInput);
    imageStatus.textContent = '';
    pendingUpload = undefined;
  }
}

$('remove-image').addEventListener('click', () => {
  imageUploadId = undefined;
  pendingUpload = undefined;
  imageInput.value = '';
  imageStatus.textContent = '';
  $('image-options').hidden = true;
  imageInput.focus();
  schedulePreview(0);
});

// ---- Save, and the saved design's live status -------------------------------------------

let savedStream: AbortController | undefined;
const saveButton = $<HTMLButtonElement>('save');

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void (async () => {
    saveButton.disabled = true;
    clearDesignErrors();
    try {
      const design = await api.json<DesignView>('/api/v1/designs', { method: 'POST', json: designBody() });
      designs.put(design);
      renderDesignList();
      watchSaved(design);
    } catch (error) {
      showDesignError(error);
    } finally {
      saveButton.disabled = false;
    }
  })();
});

const STATUS_TEXT: Record<DesignView['status'], string> = {
  PENDING: 'Saved; waiting for its turn to render…',
  RENDERING: 'Rendering…',
  PUBLISHED: 'Published.',
  FAILED: 'The render failed.',
  DELETED: 'Deleted.',
};

function watchSaved(design: DesignView): void {
  savedStream?.abort();
  const stream = new AbortController();
  savedStream = stream;
  $('saved').hidden = false;
  showSaved(design);
  if (!session) return;
  session.signal.addEventListener('abort', () => stream.abort(), { once: true });
  void followEvents({
    path: `/api/v1/designs/${encodeURIComponent(design.id)}/events`,
    token: () => api.token,
    endOn: 'end',
    signal: stream.signal,
    onEvent: (event) => {
      const view = parseData<DesignView>(event);
      if (view && view.id === design.id) {
        designs.put(view);
        showSaved(designs.get(view.id) ?? view);
        renderDesignList();
      }
    },
    onTrouble: (message, retryMs, status) => {
      if (retryMs !== null) return;
      const why = status === 404 ? 'this server has no event stream' : message;
      $('saved-status').textContent = `${STATUS_TEXT[design.status]} Live status is unavailable (${why}): see My designs after a reload.`;
    },
  });
}

function showSaved(design: DesignView): void {
  const status = $('saved-status');
  status.dataset.status = design.status;
  status.textContent = `${STATUS_TEXT[design.status]}${design.status === 'FAILED' && design.error ? ` ${design.error}` : ''}`;
  const result = $('saved-result');
  if (design.status !== 'PUBLISHED' || !design.preview_url) {
    result.hidden = true;
    return;
  }
  const label = design.design_data.text?.trim() || 'your image';
  Object.assign($<HTMLImageElement>('saved-preview'), { src: design.preview_url, alt: `Published preview of “${label}”` });
  Object.assign($<HTMLImageElement>('saved-thumbnail'), { src: design.thumbnail_url ?? '', alt: `Thumbnail of “${label}”` });
  const links = $('saved-links');
  links.replaceChildren(...downloadLinks(design).map(([name, url]) => {
    const item = document.createElement('li');
    item.append(Object.assign(document.createElement('a'), { href: url, textContent: name, download: '' }));
    return item;
  }));
  result.hidden = false;
}

/** Preview and thumbnail PNGs, then every rendition and format the server made. */
function downloadLinks(design: DesignView): Array<[string, string]> {
  const links: Array<[string, string]> = [];
  if (design.preview_url) links.push(['Preview (PNG)', design.preview_url]);
  if (design.thumbnail_url) links.push(['Thumbnail (PNG)', design.thumbnail_url]);
  for (const [rendition, formats] of Object.entries(design.assets ?? {})) {
    if (rendition === 'preview' || rendition === 'thumbnail') continue;
    for (const [format, asset] of Object.entries(formats)) {
      links.push([`${rendition[0]!.toUpperCase()}${rendition.slice(1)}${asset.width ? ` ${asset.width}px` : ''} (${format.toUpperCase()})`, asset.url]);
    }
  }
  return links;
}

function parseData<T>(event: SseEvent): T | undefined {
  if (!event.data) return undefined;
  try {
    return JSON.parse(event.data) as T;
  } catch {
    return undefined;
  }
}

// ---- My designs, kept live by GET /api/v1/events ----------------------------------------

const designs = new DesignStore<DesignView>();
const list = $('design-list');
const listStatus = $('designs-status');

function renderDesignList(): void {
  const sorted = designs.newestFirst();
  // Keep focus where it was when a row is rebuilt under it.
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.focusKey : undefined;
  list.replaceChildren(...sorted.map(designItem));
  if (sorted.length === 0) list.append(Object.assign(document.createElement('li'), { className: 'empty', textContent: 'No designs yet: make one above and save it.' }));
  if (focused) list.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
}

function designItem(design: DesignView): HTMLLIElement {
  const item = document.createElement('li');
  item.className = 'design-item';
  item.dataset.id = design.id;
  item.dataset.status = design.status;
  const label = design.design_data.text?.trim() || 'Image only';
  if (design.thumbnail_url && design.status === 'PUBLISHED') {
    item.append(Object.assign(document.createElement('img'), { src: design.thumbnail_url, alt: `Thumbnail of “${label}”`, width: 96, height: 96, loading: 'lazy' }));
  } else {
    const placeholder = document.createElement('div');
    placeholder.className = 'thumb-placeholder';
    placeholder.style.background = design.design_data.color;
    item.append(placeholder);
  }
  const info = document.createElement('div');
  info.className = 'design-info';
  const title = Object.assign(document.createElement('p'), { className: 'design-text', textContent: label });
  title.style.fontFamily = fontFamily(design.design_data.font);
  const meta = Object.assign(document.createElement('p'), {
    className: 'design-meta',
    textContent: `${productLabel(design.product_type)} · ${design.status.toLowerCase()} · ${new Date(design.created_at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}`,
  });
  info.append(title, meta);
  const buttons = document.createElement('div');
  buttons.className = 'design-actions';
  const rerender = button('Re-render', `Re-render “${label}”`, `rerender:${design.id}`, () => rerenderDesign(design));
  rerender.disabled = design.status === 'PENDING' || design.status === 'RENDERING';
  const remove = button('Delete', `Delete “${label}”`, `delete:${design.id}`, () => deleteDesign(design));
  rerender.classList.add('quiet');
  remove.classList.add('danger');
  buttons.append(rerender, remove);
  item.append(info, buttons);
  return item;
}

function button(textContent: string, ariaLabel: string, focusKey: string, onClick: () => Promise<void>): HTMLButtonElement {
  const element = Object.assign(document.createElement('button'), { type: 'button', textContent });
  element.setAttribute('aria-label', ariaLabel);
  element.dataset.focusKey = focusKey;
  element.addEventListener('click', () => void onClick());
  return element;
}

async function rerenderDesign(design: DesignView): Promise<void> {
  try {
    const queued = await api.json<DesignView>(`/api/v1/designs/${encodeURIComponent(design.id)}/render`, { method: 'POST' });
    designs.put(queued);
    renderDesignList();
    listStatus.textContent = `Rendering “${design.design_data.text ?? 'image'}” again.`;
  } catch (error) {
    listStatus.textContent = messageOf(error);
  }
}

async function deleteDesign(design: DesignView): Promise<void> {
  const sorted = designs.newestFirst();
  const next = sorted[sorted.indexOf(design) + 1] ?? sorted[sorted.indexOf(design) - 1];
  try {
    await api.request(`/api/v1/designs/${encodeURIComponent(design.id)}`, { method: 'DELETE' });
    designs.remove(design.id);
    renderDesignList();
    listStatus.textContent = `Deleted “${design.design_data.text ?? 'image'}”.`;
    // Focus moves to the next design's delete button, or to the heading when none is left.
    const target = next && list.querySelector<HTMLElement>(`[data-focus-key="delete:${CSS.escape(next.id)}"]`);
    (target ?? $('designs-title')).focus();
  } catch (error) {
    listStatus.textContent = messageOf(error);
  }
}

/**
 * Follows GET /api/v1/events for the session. Resolves once the stream is first `ready` (the
 * caller loads the list then), or has failed to open (the list is loaded anyway; the stream
 * keeps trying, or says live updates are unavailable).
 */
function followAllEvents(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let first = true;
    void followEvents({
      path: '/api/v1/events',
      token: () => api.token,
      signal,
      onOpen: () => {
        listStatus.textContent = '';
      },
      onEvent: (event) => {
        // `ready` opens every connection with the id it resumes from: the list is loaded after
        // it (by signIn the first time, here after a reconnect), so nothing that happened
        // before or while disconnected is missed. `reset` (events were missed) comes before one.
        if (event.type === 'ready') {
          if (first) resolve();
          else void refreshDesigns();
          first = false;
          return;
        }
        if (event.type === 'reset') return;
        if (event.type.startsWith('upload.')) {
          const upload = parseData<UploadView>(event);
          if (upload) onUpload(event.type === 'upload.deleted' ? { ...upload, status: 'DELETED' } : upload);
          return;
        }
        if (!event.type.startsWith('design.')) return;
        const view = parseData<DesignView>(event);
        if (!view) return;
        if (event.type === 'design.deleted') designs.remove(view.id);
        else designs.put(view);
        renderDesignList();
      },
      onTrouble: (message, retryMs, status) => {
        // Before the first `ready`: the list is loaded now, and reloaded on a later `ready`.
        first = false;
        resolve();
        listStatus.textContent = retryMs !== null ? message : `Live updates are unavailable (${status === 404 ? 'this server has no event stream' : message}).`;
      },
    });
  });
}

/** The user's newest designs, as the API lists them now. */
async function listDesigns(): Promise<DesignView[]> {
  return (await api.json<{ items: DesignView[] }>('/api/v1/designs?limit=50')).items;
}

/** On `ready` (the stream is open, after a `reset` too): the list as it is now. */
async function refreshDesigns(): Promise<void> {
  try {
    await designs.reload(listDesigns);
    renderDesignList();
  } catch (error) {
    listStatus.textContent = messageOf(error);
  }
}

// ---- Start ------------------------------------------------------------------------------

async function start(): Promise<void> {
  catalog = await (await fetch('/studio/catalog.json')).json() as Catalog;
  buildForm(catalog);
  $('dev-form').hidden = !catalog.dev_sign_in;
  if (!catalog.dev_sign_in) $('token-hint').textContent = 'Paste a Bearer token for this server (from your identity provider, or customify token --user NAME). It stays in this tab.';
  const kept = sessionStorage.getItem(TOKEN_KEY);
  if (kept) {
    try {
      await signIn(kept);
    } catch {
      signOut();
    }
  }
  document.body.dataset.ready = 'true';
}

void start();
