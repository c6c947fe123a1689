// The dashboard's one HTML page: it loads the bundle with the token, which the page then sends with every call.
export function dashboardPage(token: string): string {
  // base64url: nothing in the token needs escaping in an attribute.
  const q = `?token=${encodeURIComponent(token)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Aegis</title>
<link rel="stylesheet" href="/assets/dashboard.css${q}">
</head>
<body>
<div id="root"></div>
<script type="module" src="/assets/dashboard.js${q}"></script>
</body>
</html>
`;
}
