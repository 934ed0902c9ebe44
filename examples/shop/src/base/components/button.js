var LABEL = 'Add to cart';

module.exports = {
    label: LABEL,
    setup: function (element, onAdd) {
        element.textContent = LABEL;
        element.disabled = false;
        element.addEventListener('click', function () {
            onAdd(element.getAttribute('data-product-id'));
        });
    }
};
