var LABEL = 'Buy now';

module.exports = {
    label: LABEL,
    setup: function (element, onAdd) {
        element.textContent = LABEL;
        element.disabled = false;
        element.className += ' buy-now';
        element.addEventListener('click', function () {
            onAdd(element.getAttribute('data-product-id'));
        });
    }
};
