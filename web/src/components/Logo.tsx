export function Logo({ size = 32 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 64 64" aria-hidden="true">
      <defs>
        <linearGradient id="tc-logo" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="#7c5cff" />
          <stop offset="1" stopColor="#ff7a45" />
        </linearGradient>
      </defs>
      <rect width="64" height="64" rx="16" fill="url(#tc-logo)" />
      <path d="M14 50V20l10 9h16l10-9v30c0 4-4 6-8 6H22c-4 0-8-2-8-6z" fill="#fff" />
      <circle cx="25" cy="39" r="3" fill="#5b3fd6" />
      <circle cx="39" cy="39" r="3" fill="#5b3fd6" />
      <path d="M29 46h6l-3 3z" fill="#ff7a45" />
    </svg>
  );
}
