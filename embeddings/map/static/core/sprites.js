// Sprites: zoomed in, the points are drawn as their own pictures (the Embedding Projector's sprite
// mode). A Panel's Sprites upload the payload's atlas (images.js) as one texture in the panel's
// WebGL context and draw every point as a square point sprite cut from it: tile i is the atlas
// cell at column i % columns, row i / columns, found from gl_VertexID, so no attribute is added.
// Each picture is framed in its point's colour (colour by still reads), dimmed like a dot when
// something else is lit, and the lit ones are drawn again on top; the selection gets a dark frame.
// Zoomed out (pictures under MIN_SPRITE_PX apart) the panel draws its dots as before.
import { DIMMED32 } from "./colors.js";

export const MIN_SPRITE_PX = 16;  // a picture smaller than this (CSS px) is not worth drawing
const MAX_SPRITE_PX = 96;  // nor larger than this, however far one zooms
const FILL = 0.85;  // a picture's side as a share of the mean spacing of the points on screen
const FRAME_PX = 2;  // the frame in the point's colour around each picture, CSS px

const VS = `#version 300 es
in vec3 a_pos; in vec4 a_color;
uniform mat4 u_mvp; uniform float u_size; uniform float u_depth; uniform int u_columns;
out vec4 v_color; flat out vec2 v_cell;
void main() {
  v_color = a_color;
  v_cell = vec2(float(gl_VertexID % u_columns), float(gl_VertexID / u_columns));
  vec4 p = u_mvp * vec4(a_pos, 1.0);
  gl_Position = a_color.a == 0.0 ? vec4(2.0, 2.0, 2.0, 1.0) : p;  // hidden: clipped away
  gl_PointSize = u_depth > 0.0 ? u_size * u_depth / max(p.w, 1e-6) : u_size;  // 3D: nearer is larger
}`;
const FS = `#version 300 es
precision highp float;
in vec4 v_color; flat in vec2 v_cell;
uniform sampler2D u_atlas; uniform vec2 u_tile; uniform vec2 u_texel; uniform vec2 u_aspect;
uniform float u_border; uniform vec3 u_dimmed; uniform vec4 u_frame;
out vec4 o;
void main() {
  vec2 pc = gl_PointCoord;
  bool edge = pc.x < u_border || pc.x > 1.0 - u_border || pc.y < u_border || pc.y > 1.0 - u_border;
  if (u_frame.a > 0.0) { if (!edge) discard; o = u_frame; return; }  // the selection's frame only
  if (edge) { o = vec4(v_color.rgb, 1.0); return; }
  vec2 inner = (pc - u_border) / (1.0 - 2.0 * u_border);
  inner = (inner - 0.5) / u_aspect + 0.5;  // a tile that is not square keeps its shape
  if (inner.x < 0.0 || inner.x > 1.0 || inner.y < 0.0 || inner.y > 1.0) { o = vec4(1.0); return; }
  vec2 uv = clamp((v_cell + inner) * u_tile, v_cell * u_tile + 0.5 * u_texel, (v_cell + 1.0) * u_tile - 0.5 * u_texel);
  vec4 t = texture(u_atlas, uv);
  vec3 picture = mix(vec3(1.0), t.rgb, t.a);  // transparent parts on the map's white
  bool dimmed = all(lessThan(abs(v_color.rgb - u_dimmed), vec3(0.002)));
  o = vec4(dimmed ? mix(vec3(1.0), picture, 0.22) : picture, 1.0);
}`;

export class Sprites {
  constructor(panel) {
    this.panel = panel; this.gl = panel.gl;
    this.program = panel.makeProgram(VS, FS);  // a_pos and a_color at the panel's locations: its VAO serves
    this.u = {};
    for (const name of ["u_mvp", "u_size", "u_depth", "u_columns", "u_atlas", "u_tile", "u_texel", "u_aspect",
      "u_border", "u_dimmed", "u_frame"]) this.u[name] = this.gl.getUniformLocation(this.program, name);
    this.texture = null; this.images = null; this.note = null;
  }

  reset() {  // new data: no pictures until its atlas is decoded
    if (this.texture) this.gl.deleteTexture(this.texture);
    this.texture = null; this.images = null;
  }

  upload(images) {  // the decoded atlas as this panel's texture; false (and a note) when it cannot be
    this.reset();
    if (!images || !images.bitmap) return false;
    const gl = this.gl, limit = gl.getParameter(gl.MAX_TEXTURE_SIZE), bitmap = images.bitmap;
    if (bitmap.width > limit || bitmap.height > limit) {
      this.note = `the images' atlas (${bitmap.width} x ${bitmap.height} px) is larger than this browser's textures (${limit} px)`;
      return false;
    }
    this.texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false); gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    // Enlarged pictures stay sharp (pixel art, digits); shrunk ones are averaged. No mipmaps: they
    // would blend neighbouring tiles.
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.bindTexture(gl.TEXTURE_2D, null);
    this.images = images; this.atlasSize = [bitmap.width, bitmap.height];
    return true;
  }

  // The side of a picture on screen now, in CSS px at the camera's target (0: draw dots). The
  // points' mean spacing on screen: their extent's area over their number, at the current zoom.
  side() {
    const p = this.panel;
    if (!this.texture || !p.n || this.images.count !== p.n) return 0;
    let ppu, area;
    if (p.dims === 2) { ppu = p.pixelsPerUnit(); area = p.extent[0] * p.extent[1]; }
    else {
      const e = [...p.extent].sort((a, b) => b - a), r = 0.5 * Math.hypot(...p.extent), dist = r * p.cam.dist;
      ppu = p.h / (2 * dist * Math.tan(Math.PI / 8)); area = e[0] * e[1];
    }
    const spacing = Math.sqrt(Math.max(area, 1e-12) / p.n) * ppu;
    const side = Math.min(spacing * FILL, MAX_SPRITE_PX);
    return side >= MIN_SPRITE_PX ? side : 0;
  }

  // Draws the points as pictures when zoomed in enough; false when the panel should draw dots.
  // Called by Panel.draw with its VAO bound and its colours uploaded.
  draw(lod) {
    const p = this.panel, gl = this.gl, side = this.side();
    p.spriteSide = side;
    if (!side) return false;
    const px = side * p.dpr, [tw, th] = this.images.tile, [aw, ah] = this.atlasSize;
    const limit = gl.getParameter(gl.ALIASED_POINT_SIZE_RANGE)[1];
    gl.useProgram(this.program);
    gl.activeTexture(gl.TEXTURE0); gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.uniform1i(this.u.u_atlas, 0);
    gl.uniformMatrix4fv(this.u.u_mvp, false, p.matrix());
    gl.uniform1i(this.u.u_columns, this.images.columns);
    gl.uniform2f(this.u.u_tile, tw / aw, th / ah); gl.uniform2f(this.u.u_texel, 1 / aw, 1 / ah);
    gl.uniform2f(this.u.u_aspect, tw >= th ? 1 : tw / th, th >= tw ? 1 : th / tw);
    gl.uniform3f(this.u.u_dimmed, (DIMMED32 & 255) / 255, ((DIMMED32 >>> 8) & 255) / 255, ((DIMMED32 >>> 16) & 255) / 255);
    gl.uniform1f(this.u.u_depth, p.dims === 3 ? 0.5 * Math.hypot(...p.extent) * p.cam.dist : 0);
    const at = (size, border, frame) => {
      gl.uniform1f(this.u.u_size, Math.min(size, limit));
      gl.uniform1f(this.u.u_border, Math.min(0.45, border / size));
      gl.uniform4fv(this.u.u_frame, frame || [0, 0, 0, 0]);
    };
    at(px, FRAME_PX * p.dpr);
    if (p.dims === 3) {  // 3D: a nearer picture covers a farther one, whatever their order
      gl.clear(gl.DEPTH_BUFFER_BIT); gl.enable(gl.DEPTH_TEST); gl.depthFunc(gl.LEQUAL);
    }
    if (lod) { gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, p.lodBuf); gl.drawElements(gl.POINTS, p.lodCount, gl.UNSIGNED_INT, 0); }
    else gl.drawArrays(gl.POINTS, 0, p.n);
    gl.disable(gl.DEPTH_TEST);  // the lit pictures and the frames go on top
    if (p.brightCount) {  // the lit pictures on top of the dimmed ones
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, p.brightBuf);
      gl.drawElements(gl.POINTS, p.brightCount, gl.UNSIGNED_INT, 0);
    }
    if (p.selCount) {  // a dark frame around each selected picture
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, p.selBuf);
      at(px + 6 * p.dpr, 3 * p.dpr, [0.07, 0.07, 0.07, 1]);
      gl.drawElements(gl.POINTS, p.selCount, gl.UNSIGNED_INT, 0);
    }
    gl.bindTexture(gl.TEXTURE_2D, null);
    return true;
  }
}
