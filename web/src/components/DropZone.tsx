import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import { alpha } from '@mui/material/styles';
import Typography from '@mui/material/Typography';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { CameraDialog } from './CameraDialog';
import { CloudUploadOutlinedIcon, ContentPasteOutlinedIcon, PhotoCameraOutlinedIcon } from './icons';

/** Drop, pick, paste (anywhere on the page) or capture a photo. */
export function DropZone({ onFile, children, disabled }: { onFile: (f: Blob, name: string) => void; children?: ReactNode; disabled?: boolean }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [camera, setCamera] = useState(false);
  const hasCamera = typeof navigator !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;

  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const f = Array.from(e.clipboardData?.files ?? [])[0];
      if (f) {
        e.preventDefault();
        onFile(f, f.name || 'pasted image');
      }
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [onFile]);

  const pasteButton = async () => {
    try {
      const items = await navigator.clipboard.read();
      for (const it of items) {
        const type = it.types.find((t) => t.startsWith('image/'));
        if (type) {
          onFile(await it.getType(type), 'pasted image');
          return;
        }
      }
      onFile(new Blob([await (await items[0]?.getType('text/plain'))?.text() ?? ''], { type: 'text/plain' }), 'clipboard text');
    } catch {
      onFile(new Blob([], { type: 'text/plain' }), 'clipboard (empty or not allowed)');
    }
  };

  return (
    <Box
      data-testid="dropzone"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        const f = e.dataTransfer.files[0];
        if (f) onFile(f, f.name);
      }}
      sx={(t) => ({
        border: `2px dashed ${over ? t.palette.primary.main : alpha(t.palette.primary.main, 0.3)}`,
        borderRadius: 4,
        p: { xs: 2.5, sm: 3.5 },
        textAlign: 'center',
        bgcolor: over ? alpha(t.palette.primary.main, 0.08) : alpha(t.palette.primary.main, 0.02),
        transition: 'all .15s',
      })}
    >
      {children}
      <Typography variant="h6" component="h2" sx={{ mt: children ? 2 : 0 }}>
        Drop a cat photo here
      </Typography>
      <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
        or pick a file, paste one (Ctrl+V) or use your camera. The photo never leaves this device.
      </Typography>
      <Stack direction="row" spacing={1} useFlexGap sx={{ justifyContent: 'center', flexWrap: 'wrap' }}>
        <Button variant="contained" startIcon={<CloudUploadOutlinedIcon />} onClick={() => input.current?.click()} disabled={disabled} data-testid="pick">
          Choose a photo
        </Button>
        <Button variant="outlined" startIcon={<ContentPasteOutlinedIcon />} onClick={() => void pasteButton()} disabled={disabled}>
          Paste
        </Button>
        {hasCamera && (
          <Button variant="outlined" startIcon={<PhotoCameraOutlinedIcon />} onClick={() => setCamera(true)} disabled={disabled}>
            Camera
          </Button>
        )}
      </Stack>
      <input
        ref={input}
        type="file"
        accept="image/*"
        hidden
        data-testid="file-input"
        onChange={(e) => {
          const f = e.target.files?.[0];
          if (f) onFile(f, f.name);
          e.target.value = '';
        }}
      />
      <CameraDialog
        open={camera}
        onClose={() => setCamera(false)}
        onCapture={(b) => {
          setCamera(false);
          onFile(b, 'camera photo');
        }}
      />
    </Box>
  );
}
