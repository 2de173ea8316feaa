// Where colours appear in a PNG: node png.mjs FILE.png '#1d4ed8' ...
// Prints one JSON object: for each colour (within 12 per channel), the
// pixel count, the bounding box and how many distinct columns hold it.
import { readFileSync } from "node:fs";
import { PNG } from "pngjs";

const [file, ...colours] = process.argv.slice(2);
const png = PNG.sync.read(readFileSync(file));
const want = colours.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
const out = { width: png.width, height: png.height, colours: {} };
want.forEach((rgb, k) => {
  let count = 0, minX = Infinity, maxX = -1, minY = Infinity, maxY = -1;
  const columns = new Set();
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      if (rgb.every((v, c) => Math.abs(png.data[i + c] - v) <= 12)) {
        count++;
        columns.add(x);
        minX = Math.min(minX, x); maxX = Math.max(maxX, x);
        minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      }
    }
  }
  out.colours[colours[k]] = { count, minX, maxX, minY, maxY, columns: columns.size };
});
console.log(JSON.stringify(out));
