/**
 * Uploading files into the directory shown: several at once, from the file
 * picker or dropped on the page, each with its own progress bar.
 *
 * Uploads use XMLHttpRequest because `fetch` cannot report how much of a
 * request body has been sent. Files over the server's limit are refused
 * here before any byte is sent; whatever the server refuses (quota, limit)
 * is shown with its own message.
 */
import { ApiError, detailIn, readCookie } from "../lib/api.js";
import { fileApiUrl } from "./paths.js";
import { humanSize } from "../lib/format.js";
import { errorMessage } from "../lib/notice.js";

/**
 * The server's `{"detail"}` of a failed upload, or its status line.
 * @param {XMLHttpRequest} xhr
 * @returns {string}
 */
function uploadError(xhr) {
  return detailIn(xhr.responseText) || `The server answered ${xhr.status} ${xhr.statusText}`.trim();
}

/**
 * POST one file as the multipart field `content` of the files API.
 * @param {string} url
 * @param {File} file
 * @param {(fraction: number) => void} onProgress
 * @returns {Promise<void>}
 * @throws {ApiError}
 */
function postFile(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    const xsrf = readCookie("_xsrf");
    if (xsrf) xhr.setRequestHeader("X-XSRFToken", xsrf);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new ApiError(uploadError(xhr), xhr.status));
    });
    xhr.addEventListener("error", () =>
      reject(
        new ApiError(
          "The connection closed during the upload: the server may have refused the file, " +
            "or the network dropped. Try again.",
          0,
        ),
      ),
    );
    const form = new FormData();
    form.append("content", file, file.name);
    xhr.send(form);
  });
}

export class Uploader {
  /**
   * @param {{
   *   list: HTMLElement,
   *   apiBase: string,
   *   directory: string,
   *   limitBytes: number,
   *   existingNames: () => Promise<Set<string>>,
   *   onFinished: (uploaded: number, failed: number) => void,
   * }} options `list` is where each file's progress appears; `directory`
   *   the visible path uploaded into (ending in "/").
   */
  constructor({ list, apiBase, directory, limitBytes, existingNames, onFinished }) {
    this._list = list;
    this._apiBase = apiBase;
    this._directory = directory;
    this._limitBytes = limitBytes;
    this._existingNames = existingNames;
    this._onFinished = onFinished;
    this._busy = false;
  }

  /**
   * Upload `files` one after the other.
   * @param {File[]} files
   */
  async upload(files) {
    if (this._busy || files.length === 0) return;
    this._busy = true;
    try {
      const existing = await this._existingNames();
      const clashes = files.filter((file) => existing.has(file.name)).map((file) => file.name);
      if (clashes.length && !window.confirm(`Replace ${clashes.join(", ")}? The files already here are overwritten.`)) {
        return;
      }
      this._list.hidden = false;
      let uploaded = 0;
      let failed = 0;
      for (const file of files) {
        if (await this._uploadOne(file)) uploaded += 1;
        else failed += 1;
      }
      this._onFinished(uploaded, failed);
    } finally {
      this._busy = false;
    }
  }

  /**
   * @param {File} file
   * @returns {Promise<boolean>} whether the file was uploaded.
   */
  async _uploadOne(file) {
    const row = this._row(file);
    if (file.size > this._limitBytes) {
      row.fail(
        `${humanSize(file.size)} is over the upload limit of ${humanSize(this._limitBytes)}; ` +
          "upload a smaller file, or split or compress it.",
      );
      return false;
    }
    try {
      await postFile(fileApiUrl(this._apiBase, this._directory + file.name), file, row.progress);
    } catch (error) {
      row.fail(errorMessage(error));
      return false;
    }
    row.done();
    return true;
  }

  /**
   * A line of the upload list for one file, with a progress bar and a message.
   * @param {File} file
   * @returns {{progress: (fraction: number) => void, done: () => void, fail: (text: string) => void}}
   */
  _row(file) {
    const item = document.createElement("li");
    item.className = "upload-item";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = `${file.name} (${humanSize(file.size)})`;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute("aria-label", `Upload of ${file.name}`);
    const message = document.createElement("span");
    message.className = "upload-message";
    message.setAttribute("role", "status");
    item.append(name, bar, message);
    this._list.append(item);
    return {
      progress: (fraction) => {
        bar.value = fraction;
        message.textContent = `${Math.round(fraction * 100)} %`;
      },
      done: () => {
        bar.value = 1;
        item.dataset.state = "done";
        message.textContent = "Uploaded";
      },
      fail: (text) => {
        bar.remove();
        item.dataset.state = "failed";
        message.textContent = text;
        message.setAttribute("role", "alert");
      },
    };
  }
}
