import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import { useEffect, useRef, useState } from 'react';

export function CameraDialog({ open, onClose, onCapture }: { open: boolean; onClose: () => void; onCapture: (b: Blob) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [stream, setStream] = useState<MediaStream | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!open) return;
    let s: MediaStream | null = null;
    let stopped = false;
    setError(null);
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment', width: { ideal: 1280 } }, audio: false })
      .then((st) => {
        if (stopped) {
          st.getTracks().forEach((t) => t.stop());
          return;
        }
        s = st;
        setStream(st);
        if (video.current) {
          video.current.srcObject = st;
          void video.current.play();
        }
      })
      .catch((e: Error) => setError(e.name === 'NotAllowedError' ? 'Camera permission was denied.' : `No camera available (${e.message}).`));
    return () => {
      stopped = true;
      s?.getTracks().forEach((t) => t.stop());
      setStream(null);
    };
  }, [open]);

  const capture = () => {
    const v = video.current;
    if (!v || !v.videoWidth) return;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext('2d')?.drawImage(v, 0, 0);
    c.toBlob((b) => b && onCapture(b), 'image/png');
  };

  return (
    <Dialog open={open} onClose={onClose} maxWidth="sm" fullWidth>
      <DialogTitle>Take a photo</DialogTitle>
      <DialogContent>
        {error ? <Alert severity="warning">{error}</Alert> : <video ref={video} playsInline muted style={{ width: '100%', borderRadius: 12, background: '#000' }} />}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="contained" onClick={capture} disabled={!stream}>
          Capture
        </Button>
      </DialogActions>
    </Dialog>
  );
}
