import Box from '@mui/material/Box';
import type { SxProps, Theme } from '@mui/material/styles';
import { useEffect, useRef, type Ref } from 'react';

/** Draws RGBA pixels into a canvas of their native size, displayed at `display` CSS px. */
export function RgbaCanvas({
  rgba,
  width,
  height,
  display,
  testId,
  label,
  sx,
  canvasRef,
  pixelated = false,
}: {
  rgba: Uint8ClampedArray<ArrayBuffer> | null;
  width: number;
  height: number;
  display?: number | string;
  testId?: string;
  label?: string;
  sx?: SxProps<Theme>;
  canvasRef?: Ref<HTMLCanvasElement>;
  pixelated?: boolean;
}) {
  const ref = useRef<HTMLCanvasElement | null>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    if (rgba) ctx.putImageData(new ImageData(rgba, width, height), 0, 0);
    else ctx.clearRect(0, 0, width, height);
  }, [rgba, width, height]);
  return (
    <Box
      component="canvas"
      ref={(el: HTMLCanvasElement | null) => {
        ref.current = el;
        if (typeof canvasRef === 'function') canvasRef(el);
        else if (canvasRef) (canvasRef as { current: HTMLCanvasElement | null }).current = el;
      }}
      width={width}
      height={height}
      data-testid={testId}
      aria-label={label}
      role="img"
      sx={[
        { width: display ?? width, height: 'auto', aspectRatio: `${width} / ${height}`, display: 'block', imageRendering: pixelated ? 'pixelated' : 'auto' },
        ...(Array.isArray(sx) ? sx : [sx]),
      ]}
    />
  );
}
