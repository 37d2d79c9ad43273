// The image to send: a file chosen or dropped, a bundled sample (served from docs/examples/ at
// /examples/), or a drawing on a small canvas. Whichever was set last is the current image.

/** The bundled samples (docs/examples/*.png) and the task they suit. */
export const SAMPLES = [
  { file: 'sneaker.png', task: 'classification' },
  { file: 'trouser.png', task: 'classification' },
  { file: 'shirt.png', task: 'classification' },
  { file: 'red-circle.png', task: 'zero-shot' },
  { file: 'blue-circle.png', task: 'zero-shot' },
];

export class ImageInput {
  private current: Blob | null = null;
  private previewUrl: string | null = null;
  private drawing = false;
  private readonly context: CanvasRenderingContext2D;

  constructor(
    private readonly preview: HTMLImageElement,
    private readonly caption: HTMLElement,
    private readonly canvas: HTMLCanvasElement,
    private readonly onError: (message: string) => void,
  ) {
    this.context = canvas.getContext('2d')!;
    this.clearCanvas();
    canvas.addEventListener('pointerdown', (e) => {
      this.drawing = true;
      canvas.setPointerCapture(e.pointerId);
      this.context.beginPath();
      this.context.moveTo(...this.at(e));
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.drawing) return;
      this.context.lineTo(...this.at(e));
      this.context.stroke();
    });
    const stop = () => {
      if (!this.drawing) return;
      this.drawing = false;
      void this.useCanvas();
    };
    canvas.addEventListener('pointerup', stop);
    canvas.addEventListener('pointercancel', stop);
  }

  get image(): Blob | null {
    return this.current;
  }

  set(blob: Blob, name: string): void {
    this.current = blob;
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = URL.createObjectURL(blob);
    this.preview.src = this.previewUrl;
    this.preview.alt = `the image to classify: ${name}`;
    this.caption.textContent = name;
  }

  async loadSample(file: string): Promise<void> {
    const response = await fetch(`/examples/${encodeURIComponent(file)}`);
    if (!response.ok) return this.onError(`sample ${file}: HTTP ${response.status}`);
    this.set(await response.blob(), file);
  }

  /** White strokes on black, like the Fashion-MNIST images the demo model was trained on. */
  clearCanvas(): void {
    this.context.fillStyle = '#000';
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.context.strokeStyle = '#fff';
    this.context.lineWidth = this.canvas.width / 12;
    this.context.lineCap = 'round';
    this.context.lineJoin = 'round';
  }

  async useCanvas(): Promise<void> {
    const blob = await new Promise<Blob | null>((resolve) => this.canvas.toBlob(resolve, 'image/png'));
    if (blob) this.set(blob, 'drawing');
  }

  /** Pointer position in canvas pixels (the canvas may be drawn scaled by CSS). */
  private at(e: PointerEvent): [number, number] {
    const box = this.canvas.getBoundingClientRect();
    return [((e.clientX - box.left) * this.canvas.width) / box.width, ((e.clientY - box.top) * this.canvas.height) / box.height];
  }
}
