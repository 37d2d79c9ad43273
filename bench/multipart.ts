// The request body of the HTTP benchmarks: one PNG as a multipart/form-data file part, as a
// browser or curl -F sends it.
export async function multipartBody(png: Buffer): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'image.png');
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}
