document.getElementById("app").textContent = "statusgate console";
