var PICKS = ['Espresso cups', 'Milk frother'];

function render(element) {
    var aside = document.createElement('aside');
    aside.id = 'recommended';
    aside.className = 'recommended';
    aside.textContent = 'Recommended for you: ' + PICKS.join(', ');
    element.appendChild(aside);
}

module.exports = { picks: PICKS, render: render };
