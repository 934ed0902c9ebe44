// Loaded lazily by main.js; bucket_A overrides this file.
export const verdict = 'Customers rate this shop 4.5 out of 5';

export default function render(element) {
    element.textContent = verdict;
    element.setAttribute('data-reviews', 'base');
}

export { render };
